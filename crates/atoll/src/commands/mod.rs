//! One file per command group.

pub mod alias;
pub mod audit;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod forward;
pub mod island;
pub mod list;
mod list_held;
pub mod mailbox;
pub mod migrate;
mod password_input;
pub mod queue;
pub mod resolve;
pub mod serve;
pub mod user;
mod user_import;
