//! The deployment files, checked against the code they deploy. Every Kubernetes overlay renders
//! (`kubectl kustomize`) and validates offline against the schemas of a pinned Kubernetes version
//! (`kubernetes-validate --strict`); and in those manifests and in docker-compose.yml, every image is
//! one of the Dockerfile's targets, every port is the service's own, every peer address names a
//! service that is there, and every environment variable is one the container's binary reads —
//! listed by its `--help` (clap prints `[env: NAME=]`) or one of the standard OpenTelemetry and
//! logging variables every binary reads through the shared runtime.
//!
//! Without kubectl or kubernetes-validate the tests fail saying what to install.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use familybridge_testing::{require_tool, run_checked};
use serde_json::Value;

/// The Kubernetes version the manifests are validated against.
const KUBERNETES_VERSION: &str = "1.33.0";

/// The overlays under deploy/kubernetes/overlays.
const OVERLAYS: &[&str] = &["demo", "large", "sliced", "sliced/merge"];

/// What each overlay holds, by kind: the three services and the runner Job, or a sliced run's one
/// Job (the slices', or the merge's) and no services.
fn workloads_of(overlay: &str) -> [(&'static str, usize); 3] {
    if overlay.starts_with("sliced") {
        [("Deployment", 0), ("Service", 0), ("Job", 1)]
    } else {
        [("Deployment", 3), ("Service", 3), ("Job", 1)]
    }
}

/// The containers each overlay runs (one per Deployment and Job).
fn containers_of(overlay: &str) -> usize {
    let [(_, deployments), _, (_, jobs)] = workloads_of(overlay);
    deployments + jobs
}

/// Read by every binary outside its own flags: logging, and the OpenTelemetry SDK's standard
/// variables (the ones the deployment files may set).
const STANDARD_ENV: &[&str] = &[
    "RUST_LOG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
];

/// Settings that name a peer, and the service each must point at.
const PEER_SETTINGS: &[(&str, &str)] = &[
    ("COURT_REGISTRY_URL", "court-registry"),
    ("CMS_URL", "cms-calculation"),
];

/// The runner's `--connect` names, and the services they are.
const CONNECT_NAMES: &[(&str, &str)] = &[
    ("court", "court-registry"),
    ("cms", "cms-calculation"),
    ("hub", "referral-hub"),
];

/// A binary the images hold: its gRPC port if it serves, and the environment variables it reads.
struct Binary {
    port: Option<u16>,
    env: BTreeSet<String>,
}

/// Every binary an image can hold, by the Dockerfile target (and image name) that holds it.
fn binaries() -> BTreeMap<&'static str, Binary> {
    let read = |name: &str, help: &[&str], port: Option<u16>| {
        let path = workspace_binary(name);
        let text = run_checked(
            Command::new(&path).args(help),
            &format!("{name} {}", help.join(" ")),
        );
        let mut env = env_names_in_help(&text);
        if port.is_some() {
            for setting in ["LISTEN_ADDR", "DATABASE_URL"] {
                assert!(
                    env.contains(setting),
                    "{name} --help lists {setting} as [env: {setting}=]:\n{text}"
                );
            }
        }
        env.extend(STANDARD_ENV.iter().map(|name| (*name).to_owned()));
        Binary { port, env }
    };
    BTreeMap::from([
        (
            "court-registry",
            read(
                "court-registry",
                &["--help"],
                Some(court_registry::DEFAULT_ADDRESS.port()),
            ),
        ),
        (
            "cms-calculation",
            read(
                "cms-calculation",
                &["--help"],
                Some(cms_calculation::DEFAULT_ADDRESS.port()),
            ),
        ),
        (
            "referral-hub",
            read(
                "referral-hub",
                &["--help"],
                Some(referral_hub::DEFAULT_ADDRESS.port()),
            ),
        ),
        // The images run it as `familybridge run …`.
        (
            "familybridge",
            read("familybridge", &["run", "--help"], None),
        ),
    ])
}

/// A binary of the workspace, beside this test's own `familybridge` (cargo test --workspace builds
/// every package's binaries).
fn workspace_binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_familybridge")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is not built: run the tests with `cargo test --workspace`, which builds every \
         binary, or `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The names clap prints as `[env: NAME=…]`.
fn env_names_in_help(help: &str) -> BTreeSet<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split_once('='))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The Dockerfile's image targets: every stage but the builder and the shared runtime.
fn dockerfile_targets() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("the Dockerfile");
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["FROM", _, as_, stage] if as_.eq_ignore_ascii_case("as") => Some(*stage),
                _ => None,
            }
        })
        .filter(|stage| !["builder", "runtime"].contains(stage))
        .map(str::to_owned)
        .collect()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every document of a YAML stream, with merge keys (`<<: *anchor`) applied, as JSON values.
fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| {
            let mut value: serde_norway::Value =
                serde::Deserialize::deserialize(document).expect("valid YAML");
            // An anchor that merges another brings its own merge key along: apply again until
            // none is left (YAML merges nest).
            for _ in 0..8 {
                let before = value.clone();
                value.apply_merge().expect("merge keys apply");
                if value == before {
                    break;
                }
            }
            serde_json::to_value(value).expect("YAML that JSON can hold")
        })
        .filter(|document| !document.is_null())
        .collect()
}

fn render(overlay: &str) -> String {
    require_tool(
        "kubectl",
        "rendering the Kubernetes overlays",
        "apt-get install -y kubectl",
    );
    run_checked(
        Command::new("kubectl")
            .arg("kustomize")
            .arg(repo().join("deploy/kubernetes/overlays").join(overlay)),
        &format!("kubectl kustomize of the {overlay} overlay"),
    )
}

/// Validates `manifests` offline; `Err` holds the validator's complaint.
fn validate(manifests: &str) -> Result<(), String> {
    require_tool(
        "kubernetes-validate",
        "validating the Kubernetes manifests",
        "pip install -r deploy/kubernetes/requirements.txt",
    );
    let folder = tempfile::tempdir().expect("a folder");
    let file = folder.path().join("manifests.yaml");
    std::fs::write(&file, manifests).expect("write the manifests");
    let output = Command::new("kubernetes-validate")
        .args([
            "--strict",
            "--quiet",
            "--kubernetes-version",
            KUBERNETES_VERSION,
        ])
        .arg(&file)
        .output()
        .expect("run kubernetes-validate");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[test]
fn every_overlay_renders_and_validates_against_the_kubernetes_schemas() {
    for overlay in OVERLAYS {
        let manifests = render(overlay);
        let kinds: BTreeMap<String, usize> =
            yaml_documents(&manifests)
                .iter()
                .fold(BTreeMap::new(), |mut kinds, document| {
                    let kind = document["kind"].as_str().unwrap_or("?").to_owned();
                    *kinds.entry(kind).or_default() += 1;
                    kinds
                });
        for (kind, count) in workloads_of(overlay) {
            assert_eq!(
                kinds.get(kind).copied().unwrap_or(0),
                count,
                "{overlay}: {count} {kind}(s) in {kinds:?}"
            );
        }
        if let Err(complaint) = validate(&manifests) {
            panic!(
                "the {overlay} overlay does not validate against Kubernetes {KUBERNETES_VERSION}:\n{complaint}"
            );
        }
    }
}

#[test]
fn the_validator_refuses_a_manifest_kubernetes_would_refuse() {
    // A port given as a string: the API server refuses it, so the validation must too, or it
    // checks nothing.
    let manifests = render("demo").replace("containerPort: 50051", "containerPort: \"50051\"");
    assert!(manifests.contains("containerPort: \"50051\""));
    assert!(
        validate(&manifests).is_err(),
        "kubernetes-validate accepted a string containerPort"
    );
}

/// A container of a rendered manifest or of the compose file, reduced to what is checked.
#[derive(Debug)]
struct Container {
    /// Where it is, for messages.
    at: String,
    image: String,
    /// Environment variable names with their values where known.
    env: BTreeMap<String, Option<String>>,
    ports: Vec<u16>,
    probe_ports: Vec<u16>,
    args: Vec<String>,
}

/// The binary an image holds: its name ends in `familybridge/TARGET[:TAG]`, a Dockerfile target.
fn image_target(image: &str, targets: &BTreeSet<String>) -> String {
    let name = match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => image,
    };
    let target = name
        .rsplit_once("familybridge/")
        .map(|(_, target)| target)
        .unwrap_or_else(|| panic!("{image} is not a familybridge image"));
    assert!(
        targets.contains(target),
        "{image} is not a target of the Dockerfile ({targets:?})"
    );
    target.to_owned()
}

/// Checks one container against the binary its image holds, and its peer addresses against
/// `services` (name → port).
fn check_container(
    container: &Container,
    binaries: &BTreeMap<&str, Binary>,
    targets: &BTreeSet<String>,
    services: &BTreeMap<String, u16>,
) {
    let at = &container.at;
    let target = image_target(&container.image, targets);
    let binary = binaries
        .get(target.as_str())
        .unwrap_or_else(|| panic!("{at}: the image {} holds no known binary", container.image));
    for name in container.env.keys() {
        assert!(
            binary.env.contains(name),
            "{at}: {name} is not read by {target} (it reads {:?})",
            binary.env
        );
    }
    let port_of = |setting: &str| -> Option<u16> {
        container
            .env
            .get(setting)
            .cloned()
            .flatten()?
            .rsplit_once(':')?
            .1
            .parse()
            .ok()
    };
    if let Some(port) = binary.port {
        // The service's own port, and beside it at most its plaintext health port.
        let health = port_of("HEALTH_LISTEN_ADDR");
        assert!(
            container.ports.first() == Some(&port)
                && container.ports[1..]
                    .iter()
                    .all(|other| Some(*other) == health),
            "{at}: {target} serves on {port} (and health on {health:?}): {:?}",
            container.ports
        );
        // A probe holds no certificate: with a health port it asks there.
        let probed = health.unwrap_or(port);
        assert!(
            !container.probe_ports.is_empty()
                && container.probe_ports.iter().all(|asked| *asked == probed),
            "{at}: the probes ask {target} on {probed}: {:?}",
            container.probe_ports
        );
        let listen = container.env.get("LISTEN_ADDR").cloned().flatten();
        assert_eq!(
            listen
                .as_deref()
                .and_then(|address| address.rsplit_once(':')),
            Some(("0.0.0.0", port.to_string().as_str())),
            "{at}: LISTEN_ADDR is 0.0.0.0:{port}"
        );
    }
    let mut peers: Vec<(String, &str)> = PEER_SETTINGS
        .iter()
        .filter_map(|(setting, service)| {
            let url = container.env.get(*setting)?.clone()?;
            Some((url, *service))
        })
        .collect();
    if let Some(connect) = container
        .args
        .iter()
        .position(|arg| arg == "--connect")
        .and_then(|index| container.args.get(index + 1))
    {
        for part in connect.split(',') {
            let (name, url) = part.split_once('=').expect("--connect NAME=URL,…");
            let service = CONNECT_NAMES
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, service)| *service)
                .unwrap_or_else(|| panic!("{at}: --connect names {name}"));
            peers.push((url.to_owned(), service));
        }
    }
    // A party with credentials reaches its peers over mutual TLS, one without in plaintext.
    let scheme = if container.env.contains_key("FAMILYBRIDGE_TLS_DIR") {
        "https"
    } else {
        "http"
    };
    for (url, service) in peers {
        let wanted = binaries[service].port.expect("a service has a port");
        assert_eq!(
            url,
            format!("{scheme}://{service}:{wanted}"),
            "{at}: the address of {service}"
        );
        assert_eq!(
            services.get(service),
            Some(&wanted),
            "{at}: {url} names a service that is there, on its port"
        );
    }
}

/// A ConfigMap's or Secret's keys and (ConfigMap) values.
fn data_of(document: &Value) -> BTreeMap<String, Option<String>> {
    ["data", "stringData"]
        .iter()
        .filter_map(|field| document[*field].as_object())
        .flatten()
        .map(|(key, value)| {
            let text = value.as_str().map(str::to_owned);
            (
                key.clone(),
                (document["kind"] == "ConfigMap").then_some(text).flatten(),
            )
        })
        .collect()
}

fn numbers(values: impl IntoIterator<Item = Value>) -> Vec<u16> {
    values
        .into_iter()
        .map(|value| {
            value
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .unwrap_or_else(|| panic!("{value} is not a port number"))
        })
        .collect()
}

#[test]
fn the_manifests_name_only_images_ports_and_settings_the_services_use() {
    let binaries = binaries();
    let targets = dockerfile_targets();
    for overlay in OVERLAYS {
        let documents = yaml_documents(&render(overlay));
        let named = |kind: &str| -> BTreeMap<String, &Value> {
            documents
                .iter()
                .filter(|document| document["kind"] == kind)
                .map(|document| {
                    let name = document["metadata"]["name"].as_str().unwrap_or_default();
                    (name.to_owned(), document)
                })
                .collect()
        };
        let config_maps = named("ConfigMap");
        let secrets = named("Secret");
        let deployments = named("Deployment");
        let mut services = BTreeMap::new();
        for (name, service) in named("Service") {
            let ports = numbers(
                service["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|port| port["port"].clone()),
            );
            let [port] = ports[..] else {
                panic!("{overlay}: service {name} has one port: {ports:?}");
            };
            // Its pods are the Deployment of the same name, whose port it forwards by name.
            let deployment = deployments
                .get(&name)
                .unwrap_or_else(|| panic!("{overlay}: service {name} has a Deployment"));
            let container = &deployment["spec"]["template"]["spec"]["containers"][0];
            let target = &service["spec"]["ports"][0]["targetPort"];
            assert!(
                container["ports"].as_array().into_iter().flatten().any(
                    |declared| declared["name"] == *target && declared["containerPort"] == port
                ),
                "{overlay}: service {name} forwards {port} to the pods' port {target}"
            );
            services.insert(name, port);
        }

        let mut checked = 0;
        for document in documents.iter().filter(|document| {
            ["Deployment", "Job"].contains(&document["kind"].as_str().unwrap_or(""))
        }) {
            let workload = document["metadata"]["name"].as_str().unwrap_or_default();
            for spec in document["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let at = format!(
                    "{overlay}: {workload}/{}",
                    spec["name"].as_str().unwrap_or("?")
                );
                let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
                for variable in spec["env"].as_array().into_iter().flatten() {
                    let name = variable["name"].as_str().expect("an env name").to_owned();
                    // A key of a Secret the manifests hold must be there (an external one, as
                    // the large overlay's, is the operator's).
                    let reference = &variable["valueFrom"]["secretKeyRef"];
                    if let Some(secret) = reference["name"].as_str().and_then(|n| secrets.get(n)) {
                        let key = reference["key"].as_str().unwrap_or_default();
                        assert!(
                            data_of(secret).contains_key(key),
                            "{at}: {name} is the key {key} of the Secret {}",
                            reference["name"]
                        );
                    }
                    env.insert(name, variable["value"].as_str().map(str::to_owned));
                }
                for source in spec["envFrom"].as_array().into_iter().flatten() {
                    let (kind, table) = if source["configMapRef"].is_object() {
                        ("configMapRef", &config_maps)
                    } else {
                        ("secretRef", &secrets)
                    };
                    let name = source[kind]["name"].as_str().expect("a reference's name");
                    let referenced = table
                        .get(name)
                        .unwrap_or_else(|| panic!("{at}: {kind} {name} is in the manifests"));
                    env.extend(data_of(referenced));
                }
                let probe_ports = numbers(
                    ["startupProbe", "readinessProbe", "livenessProbe"]
                        .iter()
                        .filter(|probe| spec[**probe].is_object())
                        .map(|probe| spec[*probe]["grpc"]["port"].clone()),
                );
                let container = Container {
                    at,
                    image: spec["image"].as_str().expect("an image").to_owned(),
                    env,
                    ports: numbers(
                        spec["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|port| port["containerPort"].clone()),
                    ),
                    probe_ports,
                    args: spec["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|arg| arg.as_str().map(str::to_owned))
                        .collect(),
                };
                check_container(&container, &binaries, &targets, &services);
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            containers_of(overlay),
            "{overlay}: the containers it runs"
        );
    }
}

#[test]
fn docker_compose_names_only_images_ports_and_settings_the_services_use() {
    let binaries = binaries();
    let targets = dockerfile_targets();
    let text =
        std::fs::read_to_string(repo().join("docker-compose.yml")).expect("the compose file");
    let [compose] = &yaml_documents(&text)[..] else {
        panic!("docker-compose.yml is one YAML document");
    };
    let services = compose["services"].as_object().expect("services");
    // On the compose network a service is reached by its name, on the port it listens on.
    let listening: BTreeMap<String, u16> = services
        .iter()
        .filter_map(|(name, service)| {
            let listen = service["environment"]["LISTEN_ADDR"].as_str()?;
            let port = listen.rsplit_once(':')?.1.parse().ok()?;
            Some((name.clone(), port))
        })
        .collect();

    let mut checked = 0;
    for (name, service) in services {
        let Some(image) = service["image"]
            .as_str()
            .filter(|image| image.starts_with("familybridge/"))
        else {
            continue;
        };
        let at = format!("docker-compose.yml: {name}");
        let target = image_target(image, &targets);
        assert_eq!(
            service["build"]["target"], target,
            "{at}: the image is built from its own Dockerfile target"
        );
        let env: BTreeMap<String, Option<String>> = match &service["environment"] {
            Value::Null => serde_json::Map::new(),
            environment => environment
                .as_object()
                .unwrap_or_else(|| panic!("{at}: environment is a mapping"))
                .clone(),
        }
        .iter()
        .map(|(key, value)| (key.clone(), value.as_str().map(str::to_owned)))
        .collect();
        let entrypoint: Vec<String> = service["entrypoint"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|arg| arg.as_str().map(str::to_owned))
            .collect();
        let healthcheck: Vec<&str> = service["healthcheck"]["test"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if binaries[target.as_str()].port.is_some() {
            assert_eq!(
                healthcheck,
                ["CMD", target.as_str(), "--probe"],
                "{at}: healthy when its own probe says SERVING"
            );
        }
        // Published as [HOST_IP:]HOST_PORT:CONTAINER_PORT.
        let ports: Vec<u16> = service["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|mapping| mapping.as_str()?.rsplit(':').next()?.parse().ok())
            .collect();
        // The probe asks HEALTH_LISTEN_ADDR's port if there is one, else LISTEN_ADDR's.
        let health: Option<u16> = env
            .get("HEALTH_LISTEN_ADDR")
            .cloned()
            .flatten()
            .and_then(|address| address.rsplit_once(':')?.1.parse().ok());
        let probe_ports = health
            .or_else(|| listening.get(name).copied())
            .into_iter()
            .collect();
        let container = Container {
            at,
            image: image.to_owned(),
            env,
            ports,
            probe_ports,
            args: entrypoint,
        };
        check_container(&container, &binaries, &targets, &listening);
        checked += 1;
    }
    assert_eq!(checked, 5, "the credentials, three services and the runner");
}
