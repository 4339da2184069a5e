//! Workspace-level end-to-end tests for snow live in `tests/`.
//!
//! This library only carries the project's documentation pages, so that every code block in them
//! is compiled and run as a doc test: the docs cannot drift from the code.

#[doc = include_str!("../../docs/writing-an-authenticator.md")]
pub mod writing_an_authenticator {}

#[doc = include_str!("../../README.md")]
pub mod readme {}

#[doc = include_str!("../../docs/from-pysnow.md")]
pub mod from_pysnow {}

#[doc = include_str!("../../crates/snow-client/README.md")]
pub mod client_readme {}
