//! An arm's levers as the services' settings: what the CMS and the referral hub are started with
//! for that arm. The court registry has no levers.

use std::sync::Arc;

use familybridge_casework::CaseSettings;
use familybridge_scenario::{CourtOrderRoute, Levers};

use crate::stack::Setup;

/// The services' set-up for an arm.
pub fn setup(levers: &Levers) -> Setup {
    let levers = levers.clone();
    let hub_levers = levers.clone();
    Setup {
        cms: Box::new(move |database, court_registry_url| {
            let mut config = cms_calculation::Config::with_defaults(database, court_registry_url)?;
            config.case_settings = CaseSettings {
                acts_on: levers.acts_on.into(),
                nights_without_evidence: levers.nights_without_evidence.into(),
                ..CaseSettings::default()
            };
            config.court_orders = match levers.court_orders {
                CourtOrderRoute::Manual => cms_calculation::CourtOrderRoute::Manual,
                CourtOrderRoute::Automatic => cms_calculation::CourtOrderRoute::Automatic,
            };
            let proposals: Vec<String> = levers
                .fee_model
                .proposal()
                .into_iter()
                .map(str::to_owned)
                .collect();
            config.parameters = Arc::new(cms_calculation::parameters_with_proposals(&proposals)?);
            Ok(config)
        }),
        hub: Box::new(move |database, court_registry_url, cms_url| {
            let mut config =
                referral_hub::Config::with_defaults(database, court_registry_url, cms_url)?;
            let settings = &mut config.settings;
            settings.screening.enabled = hub_levers.distress_screening;
            settings.pauses.enabled = hub_levers.enforcement_pauses;
            settings.pauses.weeks = hub_levers.pause_weeks;
            settings.joint_reviews.enabled = hub_levers.joint_reviews;
            // Where the CMS does not follow the court's feed, the hub passes on the decision of a
            // reviewed application, so the CMS applies it from the order's date either way.
            settings.joint_reviews.report_decisions_to_cms =
                hub_levers.court_orders == CourtOrderRoute::Manual;
            // The hub checks its settings when it starts (pauses need screening, say).
            Ok(config)
        }),
    }
}
