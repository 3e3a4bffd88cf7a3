pub mod decode;
pub mod precheck;
