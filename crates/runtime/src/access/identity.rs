//! Who takes part: the three agencies ([`AgencyId`]: who publishes a feed, who subscribes to it,
//! who a data-sharing agreement or an audit record names), and every identity a caller may have
//! ([`Identity`]: an agency, the simulation controller, or an auditor).
//!
//! One spelling each, used in the identity header, in policy and agreement files, in certificates
//! and in the audit log; the proto `Agency` enum is an agency's wire form inside messages.

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

/// Who a caller is: what every access rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    /// One of the agencies, as a service calling another (or its own staff calling it).
    Agency(AgencyId),
    /// The simulation controller: the runner, which moves clocks and stands in for parents,
    /// caseworkers and court staff.
    Simulation,
    /// An auditor, who reads audit logs and nothing else.
    Auditor,
}

/// A name that is not one of the identities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an identity: expected \"court-registry\", \"cms\", \"referral-hub\", \
     \"simulation\" or \"auditor\""
)]
pub struct UnknownIdentity(pub String);

impl Identity {
    /// Every identity, agencies first.
    pub const ALL: [Identity; 5] = [
        Identity::Agency(AgencyId::CourtRegistry),
        Identity::Agency(AgencyId::Cms),
        Identity::Agency(AgencyId::ReferralHub),
        Identity::Simulation,
        Identity::Auditor,
    ];

    /// The identity's name: an agency's own ("court-registry", "cms", "referral-hub"),
    /// "simulation" or "auditor".
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Agency(agency) => agency.as_str(),
            Identity::Simulation => "simulation",
            Identity::Auditor => "auditor",
        }
    }

    /// The agency this identity is, if it is one.
    pub fn agency(self) -> Option<AgencyId> {
        match self {
            Identity::Agency(agency) => Some(agency),
            Identity::Simulation | Identity::Auditor => None,
        }
    }
}

impl From<AgencyId> for Identity {
    fn from(agency: AgencyId) -> Self {
        Identity::Agency(agency)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Identity {
    type Err = UnknownIdentity;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Identity::ALL
            .into_iter()
            .find(|identity| identity.as_str() == name)
            .ok_or_else(|| UnknownIdentity(name.to_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for Identity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
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

    #[test]
    fn identities_round_trip_and_agencies_are_identities_by_their_own_names() {
        for identity in Identity::ALL {
            assert_eq!(identity.as_str().parse::<Identity>(), Ok(identity));
        }
        for agency in AgencyId::ALL {
            assert_eq!(Identity::from(agency).as_str(), agency.as_str());
            assert_eq!(Identity::from(agency).agency(), Some(agency));
        }
        assert_eq!(Identity::Simulation.agency(), None);
        assert!("root".parse::<Identity>().is_err());
    }
}
