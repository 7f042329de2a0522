//! An access policy: which identities may call which RPCs of one service, and why.
//!
//! Each service keeps its policy in a TOML file beside its code (`access.toml`), one `[[allow]]`
//! table per rule:
//!
//! ```toml
//! [[allow]]
//! rpcs = ["familybridge.court.v1.CourtRegistry/MakeFinalOrder"]
//! callers = ["court-registry", "simulation"]
//! because = "Orders are the court's own records, made by its staff."
//! ```
//!
//! Anything no rule allows is refused. A policy names only RPCs that exist, and a server refuses to
//! start unless its policy says who may call every RPC it serves ([`AccessPolicy::covers`]), so a
//! new RPC cannot be served before someone has decided who may call it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Identity;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file is not valid TOML of the policy's shape.
    #[error("the access policy is not valid")]
    Syntax(#[from] toml::de::Error),
    /// A rule names an RPC that is not `package.Service/Method` of a familybridge API.
    #[error("rule {rule}: {rpc:?} is not an RPC of the familybridge APIs")]
    UnknownRpc {
        /// The rule's position in the file, from 1.
        rule: usize,
        /// The name as written.
        rpc: String,
    },
    /// A rule allows nobody, or says nothing of why.
    #[error("rule {rule}: {problem}")]
    Incomplete {
        /// The rule's position in the file, from 1.
        rule: usize,
        /// What is missing.
        problem: &'static str,
    },
    /// A served RPC that no rule mentions.
    #[error("the access policy says nothing of {rpc}: add a rule saying who may call it")]
    Uncovered {
        /// The RPC, `package.Service/Method`.
        rpc: String,
    },
}

/// One rule of a policy, as read and as the README's security table shows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The RPCs, each `package.Service/Method`.
    pub rpcs: Vec<String>,
    /// Who may call them.
    pub callers: BTreeSet<Identity>,
    /// Why these callers, and only they.
    pub because: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    allow: Vec<Rule>,
}

/// One service's access policy: see the module documentation.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    rules: Vec<Rule>,
    callers: BTreeMap<String, BTreeSet<Identity>>,
}

impl AccessPolicy {
    /// Reads a policy file's text, checking that every RPC it names exists.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text)?;
        let pool = familybridge_proto::json::descriptor_pool();
        let mut callers: BTreeMap<String, BTreeSet<Identity>> = BTreeMap::new();
        for (index, rule) in file.allow.iter().enumerate() {
            let number = index + 1;
            if rule.callers.is_empty() {
                return Err(PolicyError::Incomplete {
                    rule: number,
                    problem: "`callers` is empty: a rule that allows nobody says nothing",
                });
            }
            if rule.because.trim().is_empty() {
                return Err(PolicyError::Incomplete {
                    rule: number,
                    problem: "`because` is empty: say why these callers may",
                });
            }
            for rpc in &rule.rpcs {
                let exists = rpc.split_once('/').is_some_and(|(service, method)| {
                    pool.get_service_by_name(service)
                        .is_some_and(|service| service.methods().any(|m| m.name() == method))
                });
                if !exists {
                    return Err(PolicyError::UnknownRpc {
                        rule: number,
                        rpc: rpc.clone(),
                    });
                }
                callers
                    .entry(rpc.clone())
                    .or_default()
                    .extend(rule.callers.iter().copied());
            }
        }
        Ok(Self {
            rules: file.allow,
            callers,
        })
    }

    /// One policy of several: a service's own, with the shared parts of the APIs it also serves
    /// (the clock's [`CLOCK_ACCESS_POLICY`](super::CLOCK_ACCESS_POLICY), the event feed's).
    pub fn combine(parts: impl IntoIterator<Item = AccessPolicy>) -> Self {
        let mut combined = Self {
            rules: Vec::new(),
            callers: BTreeMap::new(),
        };
        for part in parts {
            for (rpc, callers) in part.callers {
                combined.callers.entry(rpc).or_default().extend(callers);
            }
            combined.rules.extend(part.rules);
        }
        combined
    }

    /// Whether `identity` may call `rpc` (`package.Service/Method`).
    pub fn allows(&self, identity: Identity, rpc: &str) -> bool {
        self.callers
            .get(rpc)
            .is_some_and(|callers| callers.contains(&identity))
    }

    /// Who may call `rpc` (`package.Service/Method`): nobody if no rule names it.
    pub fn callers(&self, rpc: &str) -> impl Iterator<Item = Identity> + '_ {
        self.callers.get(rpc).into_iter().flatten().copied()
    }

    /// The rules, in the file's order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Checks that the policy mentions every RPC of each of `services` (full names, e.g.
    /// `familybridge.court.v1.CourtRegistry`) that the familybridge APIs define; services from
    /// elsewhere (health, reflection) are not the policy's to govern.
    pub fn covers(&self, services: &[&str]) -> Result<(), PolicyError> {
        let pool = familybridge_proto::json::descriptor_pool();
        for service in services
            .iter()
            .filter_map(|name| pool.get_service_by_name(name))
        {
            for method in service.methods() {
                let rpc = format!("{}/{}", service.full_name(), method.name());
                if !self.callers.contains_key(&rpc) {
                    return Err(PolicyError::Uncovered { rpc });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AgencyId;

    const CLOCK_MOVES: &str = r#"
        [[allow]]
        rpcs = ["familybridge.simulation.v1.Clock/AdvanceTo", "familybridge.simulation.v1.Clock/Settle"]
        callers = ["simulation"]
        because = "Only the simulation moves time."

        [[allow]]
        rpcs = ["familybridge.simulation.v1.Clock/CurrentDate"]
        callers = ["simulation", "cms"]
        because = "Anyone taking part may ask the date."
    "#;

    #[test]
    fn allows_exactly_the_callers_its_rules_name() {
        let policy = AccessPolicy::from_toml_str(CLOCK_MOVES).expect("a valid policy");
        let advance = "familybridge.simulation.v1.Clock/AdvanceTo";
        assert!(policy.allows(Identity::Simulation, advance));
        assert!(!policy.allows(Identity::Agency(AgencyId::Cms), advance));
        assert!(policy.allows(
            Identity::Agency(AgencyId::Cms),
            "familybridge.simulation.v1.Clock/CurrentDate"
        ));
        assert!(!policy.allows(
            Identity::Simulation,
            "familybridge.simulation.v1.Clock/Nothing"
        ));
        policy
            .covers(&["familybridge.simulation.v1.Clock", "grpc.health.v1.Health"])
            .expect("every clock RPC is covered; health is not the policy's");
    }

    #[test]
    fn refuses_unknown_rpcs_identities_and_silent_rules_and_names_what_is_uncovered() {
        let unknown_rpc = CLOCK_MOVES.replace("Clock/Settle", "Clock/Stop");
        assert!(matches!(
            AccessPolicy::from_toml_str(&unknown_rpc),
            Err(PolicyError::UnknownRpc { rule: 1, .. })
        ));
        let unknown_caller = CLOCK_MOVES.replace(r#"["simulation"]"#, r#"["root"]"#);
        let error = AccessPolicy::from_toml_str(&unknown_caller).expect_err("no such identity");
        assert!(
            format!("{:?}", error).contains("root"),
            "the error names the bad identity: {error:?}"
        );
        let silent = CLOCK_MOVES.replace("Only the simulation moves time.", " ");
        assert!(matches!(
            AccessPolicy::from_toml_str(&silent),
            Err(PolicyError::Incomplete { rule: 1, .. })
        ));
        let partial = AccessPolicy::from_toml_str(
            r#"
            [[allow]]
            rpcs = ["familybridge.simulation.v1.Clock/AdvanceTo"]
            callers = ["simulation"]
            because = "Only the simulation moves time."
            "#,
        )
        .expect("a valid policy");
        let uncovered = partial
            .covers(&["familybridge.simulation.v1.Clock"])
            .expect_err("CurrentDate and Settle are not covered");
        assert!(
            uncovered
                .to_string()
                .contains("familybridge.simulation.v1.Clock/")
        );
    }
}
