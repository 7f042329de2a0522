//! An arm's levers as the services' settings: what the CMS and the referral hub are started with
//! for that arm. The arm's levers are the services' own settings types, so this only hands them
//! over; the court registry has no levers.

use familybridge_scenario::Arm;

use crate::stack::Setup;

/// The services' set-up for an arm.
pub fn setup(arm: &Arm) -> Setup {
    let cms_settings = arm.cms;
    let hub_settings = arm.hub.clone();
    Setup {
        cms: Box::new(move |database, court_registry_url| {
            let mut config = cms_calculation::Config::with_defaults(database, court_registry_url)?;
            config.case_settings = cms_settings;
            Ok(config)
        }),
        hub: Box::new(move |database, court_registry_url, cms_url| {
            let mut config =
                referral_hub::Config::with_defaults(database, court_registry_url, cms_url)?;
            // The hub checks its settings when it starts (pauses need screening, say).
            config.settings = hub_settings;
            Ok(config)
        }),
    }
}
