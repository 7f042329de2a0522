//! CMS cases over simulated time: `familybridge.cms.v1.CaseService`.
//!
//! The rules live in `familybridge-casework`, free of I/O. This module keeps each case in the CMS's
//! database ([`store`]), a batch of them at a time in memory ([`batch`]), carries out commands on it as idempotent commands of the CMS's event feed
//! ([`api`]), runs the time-driven work when the clock moves ([`due`]), takes court orders from
//! the court registry's feed when the exchange is automatic ([`court_orders`]), publishes what
//! other agencies may need to know ([`publish`]), and shows each case's history as the API's typed
//! entries ([`history`]).

pub mod api;
pub mod batch;
pub mod court_orders;
pub mod due;
mod history;
pub mod publish;
pub mod rules;
pub mod store;
