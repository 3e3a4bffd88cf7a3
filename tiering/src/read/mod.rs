//! The cold reader (under construction).
