//! `ward-backend`: the Ward sync API as a library — one axum Router over storage ports — so
//! that `ward-server` (local, embedded storage) and `ward-lambda` (AWS) differ only in their
//! adapter and configuration.

pub mod api;
pub mod backup;
pub mod config;
pub mod domain;
pub mod error;
pub mod model;
pub mod operator;
pub mod store;
pub mod sweeper;
pub mod tenants;

pub use api::{AppState, router};
pub use config::Config;
