//! The state machine, every allowed and refused transition.

use super::*;
use crate::manifest::{Capability, Manifest};
use crate::registry::record::{PluginRecord, VersionRecord, VersionState};

fn manifest(version: &str) -> Manifest {
    format!(
        "id = \"svc\"\nname = \"S\"\nversion = \"{version}\"\ndepartment = \"dept\"\n\
         description = \"d\"\ncategory = \"c\"\ncapabilities = [\"identity\", \"storage\"]\n"
    )
    .parse()
    .unwrap()
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn with_upload(mut r: PluginRecord, version: &str) -> PluginRecord {
    r.versions.insert(
        0,
        VersionRecord {
            manifest: manifest(version),
            sha256: format!("sha-{version}"),
            size: 1,
            state: VersionState::Uploaded,
            uploaded_at: 0,
            uploaded_by: "dev".into(),
            checks: vec![],
            grants: None,
            review: None,
        },
    );
    r
}

fn grants(caps: &[Capability]) -> Grants {
    Grants {
        capabilities: caps.iter().copied().collect(),
        ..Grants::default()
    }
}

fn state(r: &PluginRecord, version: &str) -> VersionState {
    r.version(&v(version)).unwrap().state
}

fn approved(version: &str, r: PluginRecord) -> PluginRecord {
    let r = with_upload(r, version);
    let r = apply(&r, &Action::Submit(v(version)), "dev").unwrap();
    apply(
        &r,
        &Action::Approve(v(version), grants(&[Capability::Identity])),
        "rev",
    )
    .unwrap()
}

fn full(version: &str) -> Action {
    Action::Release {
        version: v(version),
        percent: 100,
        testers: vec![],
    }
}

#[test]
fn the_happy_path_and_refusals_on_the_way() {
    let r = with_upload(PluginRecord::new("svc", "dept"), "1.0.0");
    // Only submit is allowed on an upload.
    for action in [
        Action::Approve(v("1.0.0"), Grants::default()),
        Action::Reject(v("1.0.0"), "no".into()),
        full("1.0.0"),
    ] {
        let e = apply(&r, &action, "x").unwrap_err();
        assert_eq!(e.allowed, vec!["submit"], "{action:?}");
    }
    let r = apply(&r, &Action::Submit(v("1.0.0")), "dev").unwrap();
    assert_eq!(state(&r, "1.0.0"), VersionState::InReview);
    assert_eq!(
        apply(&r, &Action::Submit(v("1.0.0")), "dev")
            .unwrap_err()
            .allowed,
        vec![] as Vec<&str>
    );
    assert_eq!(
        apply(&r, &full("1.0.0"), "x").unwrap_err().allowed,
        vec!["approve", "reject"]
    );

    // Grants are a subset of the request.
    let e = apply(
        &r,
        &Action::Approve(v("1.0.0"), grants(&[Capability::Log])),
        "rev",
    )
    .unwrap_err();
    assert!(e.message.contains("did not request"), "{e}");
    let r = apply(
        &r,
        &Action::Approve(v("1.0.0"), grants(&[Capability::Identity])),
        "rev",
    )
    .unwrap();
    assert_eq!(state(&r, "1.0.0"), VersionState::Approved);
    assert_eq!(
        r.version(&v("1.0.0")).unwrap().review.as_ref().unwrap().by,
        "rev"
    );
    assert_eq!(
        apply(&r, &Action::Submit(v("1.0.0")), "x")
            .unwrap_err()
            .allowed,
        vec!["release"]
    );

    let r = apply(&r, &full("1.0.0"), "rev").unwrap();
    assert_eq!(state(&r, "1.0.0"), VersionState::Released);
    assert_eq!(r.released, Some(v("1.0.0")));
    assert_eq!(route(&r, None), Some(&v("1.0.0")));
    assert!(
        apply(&r, &Action::Rollback, "x").is_err(),
        "nothing to roll back to"
    );
}

#[test]
fn one_review_at_a_time_and_rejections_need_reasons() {
    let r = with_upload(
        with_upload(PluginRecord::new("svc", "dept"), "1.0.0"),
        "1.1.0",
    );
    let r = apply(&r, &Action::Submit(v("1.0.0")), "dev").unwrap();
    let e = apply(&r, &Action::Submit(v("1.1.0")), "dev").unwrap_err();
    assert!(e.message.contains("already in review"), "{e}");
    assert!(apply(&r, &Action::Reject(v("1.0.0"), "  ".into()), "rev").is_err());
    let r = apply(
        &r,
        &Action::Reject(v("1.0.0"), "asks for too much".into()),
        "rev",
    )
    .unwrap();
    assert_eq!(state(&r, "1.0.0"), VersionState::Rejected);
    assert!(
        apply(&r, &Action::Submit(v("1.0.0")), "dev")
            .unwrap_err()
            .allowed
            .is_empty()
    );
    // The other version may now go to review.
    assert!(apply(&r, &Action::Submit(v("1.1.0")), "dev").is_ok());
}

#[test]
fn gray_release_promote_revert_and_rollback() {
    let r = approved("1.0.0", PluginRecord::new("svc", "dept"));
    let r = apply(&r, &full("1.0.0"), "rev").unwrap();
    let r = approved("1.1.0", r);
    let gray = Action::Release {
        version: v("1.1.0"),
        percent: 10,
        testers: vec!["tester-1".into()],
    };
    let r = apply(&r, &gray, "rev").unwrap();
    assert_eq!(state(&r, "1.1.0"), VersionState::Gray);
    assert_eq!(route(&r, Some("tester-1")), Some(&v("1.1.0")));
    assert_eq!(
        route(&r, None),
        Some(&v("1.0.0")),
        "anonymous callers get the full release"
    );
    // A second gray is refused while one runs.
    let r2 = approved("1.2.0", r.clone());
    let e = apply(
        &r2,
        &Action::Release {
            version: v("1.2.0"),
            percent: 5,
            testers: vec![],
        },
        "rev",
    )
    .unwrap_err();
    assert_eq!(e.allowed, vec!["gray", "promote", "revert"]);

    let r = apply(
        &r,
        &Action::SetGray {
            percent: 50,
            testers: vec![],
        },
        "rev",
    )
    .unwrap();
    assert_eq!(r.gray.as_ref().unwrap().percent, 50);
    let reverted = apply(&r, &Action::Revert, "rev").unwrap();
    assert_eq!(state(&reverted, "1.1.0"), VersionState::Approved);
    assert_eq!(route(&reverted, Some("tester-1")), Some(&v("1.0.0")));
    assert!(apply(&reverted, &Action::Promote, "rev").is_err());

    let r = apply(&r, &Action::Promote, "rev").unwrap();
    assert_eq!(r.released, Some(v("1.1.0")));
    assert_eq!(state(&r, "1.0.0"), VersionState::Superseded);
    assert!(r.gray.is_none());
    let r = apply(&r, &Action::Rollback, "rev").unwrap();
    assert_eq!(r.released, Some(v("1.0.0")));
    assert_eq!(state(&r, "1.0.0"), VersionState::Released);
    assert_eq!(state(&r, "1.1.0"), VersionState::Superseded);

    // A lower version cannot be released over a higher one.
    let r = approved("0.9.0", r);
    let e = apply(&r, &full("0.9.0"), "rev").unwrap_err();
    assert!(e.message.contains("not higher"), "{e}");
}

#[test]
fn take_down_and_put_back() {
    let r = approved("1.0.0", PluginRecord::new("svc", "dept"));
    let r = apply(&r, &full("1.0.0"), "rev").unwrap();
    let down = apply(&r, &Action::TakeDown, "admin").unwrap();
    assert_eq!(route(&down, None), None);
    assert_eq!(
        apply(&down, &Action::TakeDown, "admin")
            .unwrap_err()
            .allowed,
        vec!["put-back"]
    );
    let up = apply(&down, &Action::PutBack, "admin").unwrap();
    assert_eq!(route(&up, None), Some(&v("1.0.0")));
    assert_eq!(
        apply(&up, &Action::PutBack, "admin").unwrap_err().allowed,
        vec!["take-down"]
    );
}

#[test]
fn gray_share_is_sticky_and_close_to_the_percentage() {
    let mut r = approved("1.0.0", PluginRecord::new("svc", "dept"));
    r = apply(&r, &full("1.0.0"), "rev").unwrap();
    r = approved("1.1.0", r);
    r = apply(
        &r,
        &Action::Release {
            version: v("1.1.0"),
            percent: 10,
            testers: vec![],
        },
        "rev",
    )
    .unwrap();
    let citizens: Vec<String> = (0..10_000).map(|i| format!("citizen-{i}")).collect();
    let in_gray = |r: &PluginRecord| -> Vec<bool> {
        citizens
            .iter()
            .map(|c| route(r, Some(c)) == Some(&v("1.1.0")))
            .collect()
    };
    let first = in_gray(&r);
    let share = first.iter().filter(|g| **g).count() as f64 / 10_000.0;
    assert!((share - 0.10).abs() <= 0.015, "share {share}");
    assert_eq!(
        first,
        in_gray(&r),
        "sticky while the percentage is unchanged"
    );
    let wider = apply(
        &r,
        &Action::SetGray {
            percent: 30,
            testers: vec![],
        },
        "rev",
    )
    .unwrap();
    let second = in_gray(&wider);
    assert!(
        first.iter().zip(&second).all(|(a, b)| !a || *b),
        "raising keeps earlier citizens in gray"
    );
}

#[test]
fn every_version_action_in_every_state() {
    // A record whose version 2.0.0 is in `state` (1.0.0 is released).
    let in_state = |state: VersionState| {
        let mut r = approved("1.0.0", PluginRecord::new("svc", "dept"));
        r = apply(&r, &full("1.0.0"), "rev").unwrap();
        r = with_upload(r, "2.0.0");
        if let Some(v) = r.version_mut(&v("2.0.0")) {
            v.state = state;
        }
        if state == VersionState::Gray {
            r.gray = Some(crate::registry::GrayRelease {
                version: v("2.0.0"),
                percent: 5,
                testers: vec![],
            });
        }
        r
    };
    let actions = [
        ("submit", Action::Submit(v("2.0.0"))),
        (
            "approve",
            Action::Approve(v("2.0.0"), grants(&[Capability::Identity])),
        ),
        ("reject", Action::Reject(v("2.0.0"), "reason".into())),
        ("release", full("2.0.0")),
    ];
    for state in [
        VersionState::Uploaded,
        VersionState::InReview,
        VersionState::Approved,
        VersionState::Rejected,
        VersionState::Gray,
        VersionState::Released,
        VersionState::Superseded,
    ] {
        let allowed = allowed_for_version(state);
        for (name, action) in &actions {
            let result = apply(&in_state(state), action, "someone");
            assert_eq!(
                result.is_ok(),
                allowed.contains(name),
                "{name} on a {} version: {result:?}",
                state.name()
            );
            if let Err(e) = result {
                assert!(!e.message.is_empty());
            }
        }
    }
}
