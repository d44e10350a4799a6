//! permit-status: where is my administrative dossier (hồ sơ thủ tục hành chính)?
//!
//! Work in progress (issue 3): the domain rules are here; the routes, the `permits` schema,
//! the entry points and the deployment entries are not written yet.

pub mod dossier;
pub mod store;
pub mod update;
pub mod view;
