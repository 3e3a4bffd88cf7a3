//! The controller RPC protocol between quorum members, on each member's controller listener.
//!
//! A frame is a 4-byte big-endian length and that many bytes of serde_json ([`frame`]); a
//! connection carries one request at a time and its answer. Requests ([`message::Request`]) are
//! openraft's AppendEntries, Vote and (chunked) InstallSnapshot, plus the forwarded client
//! operations: `Propose` (a write, executed on the leader only), `Heartbeat` (broker liveness,
//! handled by the active controller, not logged) and `JoinAsLearner`. A malformed or oversized
//! frame closes that connection only; the listener keeps serving.

mod client;
mod frame;
mod message;
mod server;

pub(crate) use client::{CallError, Pool};
pub(crate) use message::{Request, Response, WireError};
pub(crate) use server::{Handler, serve};
