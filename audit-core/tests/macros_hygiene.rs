//! Hygiene: the macros work where the prelude is gone and common names are
//! taken by the user, and they add no warning to user code, pedantic lints
//! included (CI runs clippy with `-D warnings` over every test target, so a
//! generated-code warning fails the build).

#![deny(warnings)]
#![warn(clippy::pedantic)]

/// Everything here runs without the prelude, next to user items named like
/// what generated code might be tempted to use.
mod no_prelude {
    #![no_implicit_prelude]
    #![allow(non_camel_case_types, non_snake_case, dead_code)]

    // Shadow the names generated code might use unqualified.
    pub(crate) struct Result;
    pub(crate) struct Option;
    pub(crate) struct String;
    pub(crate) struct Box;
    pub(crate) struct Vec;
    pub(crate) fn Ok() {}
    pub(crate) fn Err() {}
    pub(crate) fn Some() {}
    pub(crate) fn None() {}
    pub(crate) mod audit {}
    pub(crate) mod audit_core {}
    pub(crate) mod serde_json {}
    pub(crate) mod std {}
    pub(crate) mod core {}
    pub(crate) trait Display {}
    pub(crate) trait Serialize {}
    pub(crate) trait Auditable {}
    pub(crate) trait AuditState {}
    pub(crate) struct ActionCell;
    pub(crate) struct Guard;
    pub(crate) fn format() {}
    pub(crate) fn drop() {}
    pub(crate) fn panic() {}

    pub(crate) type Out<T> = ::core::result::Result<T, ::std::string::String>;

    #[derive(::audit_core::Auditable)]
    #[audit(target = "app")]
    pub(crate) struct App {
        #[audit(id)]
        pub(crate) id: u64,
        #[audit(name)]
        pub(crate) name: ::std::option::Option<::std::string::String>,
        #[audit(redact)]
        pub(crate) secret: ::std::string::String,
        #[audit(skip)]
        pub(crate) cache: ::std::vec::Vec<u8>,
        pub(crate) plan: &'static str,
    }

    #[::audit_core::audited(
        action = "app.deleted",
        target = "app",
        target_id = id,
        severity = "critical",
        category = "delete",
        description = "Deleted app {id} of {tenant}",
        tenant = tenant,
        fields(n = id, tenant),
        skip(unused),
        redact("hint"),
    )]
    pub(crate) async fn delete(id: u64, tenant: &str, unused: u8, hint: &str) -> Out<u64> {
        let _ = (unused, hint);
        if id == 0 {
            return ::core::result::Result::Err(::std::borrow::ToOwned::to_owned("no app 0"));
        }
        let parsed: u64 = "1".parse().map_err(|_| ::std::string::String::new())?;
        ::core::result::Result::Ok(id + parsed)
    }

    #[::audit_core::audited(action = "app.viewed", target = app)]
    pub(crate) fn view(app: &App) -> usize {
        app.cache.len()
    }

    pub(crate) struct Counter(pub(crate) u32);

    impl Counter {
        #[::audit_core::audited(action = "counter.bumped", fields(before = self.0))]
        pub(crate) async fn bump(&mut self) -> u32 {
            self.0 += 1;
            self.0
        }

        #[::audit_core::audited(action = "counter.read")]
        pub(crate) fn read(&self) -> impl ::core::fmt::Display + use<> {
            self.0
        }
    }

    #[::audit_core::audited(action = "job.scheduled")]
    pub(crate) fn schedule(
        job: &'static str,
    ) -> ::core::pin::Pin<
        ::std::boxed::Box<dyn ::core::future::Future<Output = Out<&'static str>> + ::core::marker::Send>,
    > {
        ::std::boxed::Box::pin(async move { ::core::result::Result::Ok(job) })
    }
}

/// Typical service code, with the prelude, under the same lints.
mod service {
    use audit_core as audit;
    use audit_core::{Auditable, audited};

    #[derive(Debug)]
    pub(crate) struct StoreError;

    impl std::fmt::Display for StoreError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("store unavailable")
        }
    }

    #[derive(Clone, Auditable, serde::Serialize)]
    pub(crate) struct Member {
        #[audit(id)]
        pub(crate) id: String,
        #[audit(name)]
        pub(crate) email: String,
        pub(crate) role: String,
    }

    #[async_trait::async_trait]
    pub(crate) trait Members: Send + Sync {
        async fn change_role(&self, member: &Member, role: &str) -> Result<Member, StoreError>;
    }

    pub(crate) struct InMemory;

    #[async_trait::async_trait]
    impl Members for InMemory {
        #[audited(action = "member.role_changed", target = member, description = "Role of {member.email} set to {role}")]
        async fn change_role(&self, member: &Member, role: &str) -> Result<Member, StoreError> {
            audit::before(member);
            let updated = Member {
                role: role.to_owned(),
                ..member.clone()
            };
            audit::after(&updated);
            Ok(updated)
        }
    }

    /// Returns the member's id.
    ///
    /// # Errors
    /// Never; the signature is a handler's.
    #[audited(action = "member.viewed", target = "member", target_id = id)]
    pub(crate) async fn view(id: &str) -> Result<String, StoreError> {
        Ok(id.to_owned())
    }
}

use audit_core::{Actor, AuditScope, Event, RequestContext};

fn events(scope: &AuditScope) -> Vec<Event> {
    scope
        .take_completed()
        .into_iter()
        .map(|draft| draft.into_builder(scope.request()).build())
        .collect()
}

#[tokio::test]
async fn generated_code_needs_no_prelude_and_ignores_shadowed_names() {
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    let app = no_prelude::App {
        id: 7,
        name: Some("Billing".into()),
        secret: "s3cr3t".into(),
        cache: vec![1, 2],
        plan: "pro",
    };
    let outputs = scope
        .run(async {
            let mut counter = no_prelude::Counter(1);
            (
                no_prelude::delete(5, "acme", 0, "h").await,
                no_prelude::delete(0, "acme", 0, "h").await,
                no_prelude::view(&app),
                counter.bump().await,
                counter.read().to_string(),
                no_prelude::schedule("nightly").await,
            )
        })
        .await;
    assert_eq!(
        outputs,
        (Ok(6), Err("no app 0".to_owned()), 2, 2, "2".to_owned(), Ok("nightly"))
    );
    let events = events(&scope);
    let actions: Vec<_> = events.iter().map(|e| e.action().as_str()).collect();
    assert_eq!(
        actions,
        [
            "app.deleted",
            "app.deleted",
            "app.viewed",
            "counter.bumped",
            "counter.read",
            "job.scheduled"
        ]
    );
    assert_eq!(events[0].description(), Some("Deleted app 5 of acme"));
    assert_eq!(events[0].tenant_id(), Some("acme"));
    assert_eq!(events[0].metadata()["n"], 5);
    assert_eq!(events[1].reason(), Some("no app 0"));
    assert_eq!(events[2].target().unwrap().name.as_deref(), Some("Billing"));
    assert_eq!(events[3].metadata()["before"], 1);
}

#[tokio::test]
async fn async_trait_methods_and_handlers_under_pedantic_lints() {
    use service::Members as _;
    let scope = AuditScope::new(RequestContext::new(Actor::user("u1")));
    let member = service::Member {
        id: "m_1".into(),
        email: "ada@acme.test".into(),
        role: "member".into(),
    };
    let (updated, viewed) = scope
        .run(async {
            (
                service::InMemory.change_role(&member, "admin").await,
                service::view("m_1").await,
            )
        })
        .await;
    assert_eq!(updated.map(|m| m.role).ok().as_deref(), Some("admin"));
    assert_eq!(viewed.ok().as_deref(), Some("m_1"));
    let events = events(&scope);
    assert_eq!(events[0].description(), Some("Role of ada@acme.test set to admin"));
    assert_eq!(events[0].target().unwrap().name.as_deref(), Some("ada@acme.test"));
    assert_eq!(events[0].changes().unwrap().diff.len(), 1);
    assert_eq!(events[1].target().unwrap().id, "m_1");
}
