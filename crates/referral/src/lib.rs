//! The referral hub's rules, free of I/O: the service in `services/referral-hub` stores what they
//! decide and tells the other agencies.
//!
//! - [`settings`]: everything a scenario sets for the hub — distress screening, referral pathways,
//!   pause points, joint case reviews — as one set of types, so a scenario's `[arm.hub]`, the
//!   hub's `hub-settings.toml` and the code spell each lever the same way.
//! - [`rules`]: when screening flags a parent, which pathways a flagged parent is referred to, and
//!   when a variation application calls for a joint case review.

pub mod rules;
pub mod settings;

pub use settings::{
    HubSettings, JointReviews, MAX_WEEKS, Pathway, PathwayTimes, Pauses, ReferralCondition,
    ReferralRule, Screening, SettingsError,
};
