//! Renders [`crate::load::result`] values for people: a Markdown summary and PNG plots of one
//! run, of a suite of runs, and of a comparison of two systems.
