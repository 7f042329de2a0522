//! Agency identities: who publishes a feed, who subscribes to it, and who a data-sharing agreement
//! or an audit record names.
//!
//! The same three names are used in the `x-familybridge-agency` header, in agreement files and in
//! the audit log; the proto `Agency` enum is their wire form inside messages.

use std::fmt;
use std::str::FromStr;

use familybridge_proto::common::v1::Agency;

/// One of the agencies that take part in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgencyId {
    /// The family-court orders registry.
    CourtRegistry,
    /// The Child Maintenance Service.
    Cms,
    /// The referral hub.
    ReferralHub,
}

/// A name or enum value that is not one of the agencies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an agency: expected \"court-registry\", \"cms\" or \"referral-hub\"")]
pub struct UnknownAgency(pub String);

impl AgencyId {
    /// Every agency.
    pub const ALL: [AgencyId; 3] = [
        AgencyId::CourtRegistry,
        AgencyId::Cms,
        AgencyId::ReferralHub,
    ];

    /// The agency's name in headers, configuration and the audit log: "court-registry", "cms" or
    /// "referral-hub".
    pub fn as_str(self) -> &'static str {
        match self {
            AgencyId::CourtRegistry => "court-registry",
            AgencyId::Cms => "cms",
            AgencyId::ReferralHub => "referral-hub",
        }
    }

    /// The name of the service that acts as this agency — its binary, and the `service.name` its
    /// telemetry is exported under: "court-registry", "cms-calculation" or "referral-hub".
    pub const fn service_name(self) -> &'static str {
        match self {
            AgencyId::CourtRegistry => "court-registry",
            AgencyId::Cms => "cms-calculation",
            AgencyId::ReferralHub => "referral-hub",
        }
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgencyId {
    type Err = UnknownAgency;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AgencyId::ALL
            .into_iter()
            .find(|agency| agency.as_str() == name)
            .ok_or_else(|| UnknownAgency(name.to_owned()))
    }
}

impl From<AgencyId> for Agency {
    fn from(agency: AgencyId) -> Self {
        match agency {
            AgencyId::CourtRegistry => Agency::CourtRegistry,
            AgencyId::Cms => Agency::Cms,
            AgencyId::ReferralHub => Agency::ReferralHub,
        }
    }
}

impl TryFrom<Agency> for AgencyId {
    type Error = UnknownAgency;

    fn try_from(agency: Agency) -> Result<Self, Self::Error> {
        match agency {
            Agency::CourtRegistry => Ok(AgencyId::CourtRegistry),
            Agency::Cms => Ok(AgencyId::Cms),
            Agency::ReferralHub => Ok(AgencyId::ReferralHub),
            Agency::Unspecified => Err(UnknownAgency(agency.as_str_name().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_enum_values_round_trip() {
        for agency in AgencyId::ALL {
            assert_eq!(agency.as_str().parse::<AgencyId>(), Ok(agency));
            assert_eq!(AgencyId::try_from(Agency::from(agency)), Ok(agency));
        }
        assert!("dwp".parse::<AgencyId>().is_err());
        assert!("CMS".parse::<AgencyId>().is_err());
        assert!(AgencyId::try_from(Agency::Unspecified).is_err());
    }
}
