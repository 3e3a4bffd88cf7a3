//! Object stores (under construction).
