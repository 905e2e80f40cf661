//! Unit tests of dispatch and the `system` namespace against a small test
//! namespace; every expected fault and shape is the reference's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use supervisor_sdk::value::Value;

use super::*;

/// `test.echo(x...)` returns its params as an array, `test.fail(code)`
/// faults, `test.slow(ms, x)` answers `x` after `ms` milliseconds,
/// `test.boom()` panics synchronously and `test.late_boom()` inside its
/// future; `test.nosig()` has no signature.
struct TestNamespace(&'static str);

impl RpcNamespace for TestNamespace {
    fn name(&self) -> &str {
        self.0
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::new("echo", "Echo.\n@return array r", &["array"]),
            MethodInfo::new("fail", "Fail.", &["boolean", "int"]),
            MethodInfo::new("slow", "Slow.", &["string", "int", "string"]),
            MethodInfo::new("boom", "Boom.", &["boolean"]),
            MethodInfo::new("late_boom", "Late boom.", &["boolean"]),
            MethodInfo {
                name: "nosig".into(),
                help: "No signature.".into(),
                signature: None,
                changes_state: true,
            },
        ]
    }

    fn call(&self, method: &str, params: Vec<Value>) -> BoxFuture<CallResult> {
        match method {
            "echo" => Box::pin(async move { Ok(Value::array(params)) }),
            "fail" => {
                let code = params
                    .first()
                    .and_then(Value::as_int)
                    .unwrap_or(code::INCORRECT_PARAMETERS);
                Box::pin(async move { Err(Fault::with(code, "asked")) })
            }
            "slow" => Box::pin(async move {
                let (Some(ms), Some(answer)) =
                    (params.first().and_then(Value::as_int), params.get(1))
                else {
                    return Err(Fault::bare(code::INCORRECT_PARAMETERS));
                };
                tokio::time::sleep(Duration::from_millis(ms as u64)).await;
                Ok(answer.clone())
            }),
            "boom" => panic!("boom asked"),
            "late_boom" => Box::pin(async move {
                tokio::task::yield_now().await;
                panic!("late boom asked")
            }),
            _ => Box::pin(async move { Ok(Value::bool(true)) }),
        }
    }
}

fn registry() -> Registry {
    let registry = Registry::new();
    registry
        .add(Arc::new(TestNamespace("test")))
        .expect("the test namespace registers");
    registry
}

fn s(text: &str) -> Value {
    Value::string(text)
}

fn call_struct(name: Option<Value>, params: Option<Vec<Value>>) -> Value {
    let mut members = BTreeMap::new();
    if let Some(name) = name {
        members.insert("methodName".to_owned(), name);
    }
    if let Some(params) = params {
        members.insert("params".to_owned(), Value::array(params));
    }
    Value::structure(members)
}

fn fault(code: i32, text: &str) -> Result<Value, CallError> {
    Err(CallError::Fault(Fault::verbatim(code, text)))
}

#[tokio::test]
async fn list_methods_is_sorted_and_includes_system() {
    let names = registry()
        .dispatch("system.listMethods", vec![])
        .await
        .unwrap();
    let expected: Vec<Value> = [
        "system.listMethods",
        "system.methodHelp",
        "system.methodSignature",
        "system.multicall",
        "test.boom",
        "test.echo",
        "test.fail",
        "test.late_boom",
        "test.nosig",
        "test.slow",
    ]
    .into_iter()
    .map(s)
    .collect();
    assert_eq!(names, Value::array(expected));
}

#[tokio::test]
async fn only_registered_two_part_names_are_reachable() {
    let registry = registry();
    for name in [
        "echo",
        "test.echo.x",
        "test._echo",
        "system._listMethods",
        "system.nope",
        "nope.echo",
        "test.nope",
        "test.",
        ".echo",
        "test.__class__",
        "supervisor.getState",
    ] {
        assert_eq!(
            registry.dispatch(name, vec![]).await,
            fault(1, "UNKNOWN_METHOD"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn calls_reach_their_namespace_with_params_in_order() {
    let registry = registry();
    let params = vec![s("a"), Value::int(2), Value::nil()];
    assert_eq!(
        registry.dispatch("test.echo", params.clone()).await,
        Ok(Value::array(params))
    );
    assert_eq!(
        registry.dispatch("test.fail", vec![Value::int(10)]).await,
        fault(10, "BAD_NAME: asked")
    );
}

#[tokio::test]
async fn method_help_and_signature() {
    let registry = registry();
    assert_eq!(
        registry
            .dispatch("system.methodHelp", vec![s("test.echo")])
            .await,
        Ok(s("Echo.\n@return array r"))
    );
    assert_eq!(
        registry
            .dispatch("system.methodSignature", vec![s("test.slow")])
            .await,
        Ok(Value::array(vec![s("string"), s("int"), s("string")]))
    );
    assert_eq!(
        registry
            .dispatch("system.methodSignature", vec![s("system.multicall")])
            .await,
        Ok(Value::array(vec![s("array"), s("array")]))
    );
    let help = registry
        .dispatch("system.methodHelp", vec![s("system.listMethods")])
        .await
        .unwrap();
    assert!(help.as_str().is_some_and(|h| h.contains("@return array")));
    for method in ["system.methodHelp", "system.methodSignature"] {
        for unknown in [s("test.nope"), s("nope"), s("test.echo.x"), Value::int(5)] {
            assert_eq!(
                registry.dispatch(method, vec![unknown]).await,
                fault(4, "SIGNATURE_UNSUPPORTED")
            );
        }
        assert_eq!(
            registry.dispatch(method, vec![]).await,
            fault(2, "INCORRECT_PARAMETERS")
        );
        assert_eq!(
            registry.dispatch(method, vec![s("a"), s("b")]).await,
            fault(2, "INCORRECT_PARAMETERS")
        );
    }
    assert_eq!(
        registry
            .dispatch("system.methodSignature", vec![s("test.nosig")])
            .await,
        fault(4, "SIGNATURE_UNSUPPORTED")
    );
    assert_eq!(
        registry
            .dispatch("system.listMethods", vec![Value::int(1)])
            .await,
        fault(2, "INCORRECT_PARAMETERS")
    );
}

#[tokio::test]
async fn multicall_results_are_bare_values_or_fault_structs() {
    let registry = registry();
    let calls = vec![
        call_struct(Some(s("test.echo")), Some(vec![s("x")])),
        call_struct(
            Some(s("system.methodSignature")),
            Some(vec![s("test.fail")]),
        ),
        call_struct(Some(s("test.fail")), Some(vec![Value::int(70)])),
        call_struct(Some(s("test.nope")), None),
        call_struct(None, Some(vec![])),
        call_struct(Some(Value::nil()), None),
        call_struct(
            Some(s("system.multicall")),
            Some(vec![Value::array(vec![])]),
        ),
        call_struct(Some(Value::int(5)), None),
        call_struct(Some(s("test.echo")), None),
    ];
    let results = registry
        .dispatch("system.multicall", vec![Value::array(calls)])
        .await
        .unwrap();
    let f = |code, text: &str| system::fault_struct(&Fault::verbatim(code, text));
    assert_eq!(
        results,
        Value::array(vec![
            Value::array(vec![s("x")]),
            Value::array(vec![s("boolean"), s("int")]),
            f(70, "NOT_RUNNING: asked"),
            f(1, "UNKNOWN_METHOD"),
            f(2, "INCORRECT_PARAMETERS: No methodName"),
            f(2, "INCORRECT_PARAMETERS: No methodName"),
            f(
                2,
                "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"
            ),
            f(
                30,
                "FAILED: <class 'AttributeError'>:'int' object has no attribute 'split'"
            ),
            Value::array(vec![]),
        ])
    );
}

#[tokio::test]
async fn multicall_spreads_params_as_python_does() {
    let registry = registry();
    let spread = |params: Value| {
        let mut members = BTreeMap::new();
        members.insert("methodName".to_owned(), s("test.echo"));
        members.insert("params".to_owned(), params);
        Value::structure(members)
    };
    let mut keys = BTreeMap::new();
    keys.insert("k1".to_owned(), Value::int(1));
    keys.insert("k2".to_owned(), Value::int(2));
    let calls = vec![
        spread(s("ab")),
        spread(Value::structure(keys)),
        spread(Value::int(5)),
        spread(Value::nil()),
    ];
    let results = registry
        .dispatch("system.multicall", vec![Value::array(calls)])
        .await
        .unwrap();
    assert_eq!(
        results,
        Value::array(vec![
            Value::array(vec![s("a"), s("b")]),
            Value::array(vec![s("k1"), s("k2")]),
            system::fault_struct(&Fault::bare(code::INCORRECT_PARAMETERS)),
            system::fault_struct(&Fault::bare(code::INCORRECT_PARAMETERS)),
        ])
    );
}

#[tokio::test]
async fn a_multicall_entry_that_is_not_a_struct_fails_the_whole_call() {
    // The reference answers HTTP 500 (its AttributeError escapes).
    for entry in [s("not a struct"), Value::int(7)] {
        let calls = vec![call_struct(Some(s("test.echo")), None), entry];
        let outcome = registry()
            .dispatch("system.multicall", vec![Value::array(calls)])
            .await;
        assert!(
            matches!(outcome, Err(CallError::Internal(_))),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn multicall_argument_errors() {
    let registry = registry();
    assert_eq!(
        registry
            .dispatch("system.multicall", vec![Value::array(vec![])])
            .await,
        Ok(Value::array(vec![]))
    );
    assert_eq!(
        registry.dispatch("system.multicall", vec![s("")]).await,
        Ok(Value::array(vec![]))
    );
    assert!(matches!(
        registry.dispatch("system.multicall", vec![s("x")]).await,
        Err(CallError::Internal(_))
    ));
    for params in [
        vec![],
        vec![Value::int(1)],
        vec![Value::structure::<&str>([])],
        vec![Value::array(vec![]), s("x")],
    ] {
        assert_eq!(
            registry.dispatch("system.multicall", params).await,
            fault(2, "INCORRECT_PARAMETERS")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn multicall_awaits_deferred_calls_in_order() {
    let registry = registry();
    let calls = vec![
        call_struct(
            Some(s("test.slow")),
            Some(vec![Value::int(300), s("first")]),
        ),
        call_struct(
            Some(s("test.slow")),
            Some(vec![Value::int(10), s("second")]),
        ),
        call_struct(Some(s("test.echo")), Some(vec![])),
    ];
    let started = tokio::time::Instant::now();
    let results = registry
        .dispatch("system.multicall", vec![Value::array(calls)])
        .await
        .unwrap();
    assert_eq!(
        results,
        Value::array(vec![s("first"), s("second"), Value::array(vec![])])
    );
    // Sequential, as in the reference: the waits add up.
    assert!(started.elapsed() >= Duration::from_millis(310));
}

#[tokio::test]
async fn panics_become_internal_errors_or_failed_structs() {
    let registry = registry();
    for name in ["test.boom", "test.late_boom"] {
        let outcome = registry.dispatch(name, vec![]).await;
        assert!(
            matches!(outcome, Err(CallError::Internal(ref m)) if m.contains("boom asked")),
            "{name}: {outcome:?}"
        );
    }
    let calls = vec![
        call_struct(Some(s("test.late_boom")), None),
        call_struct(Some(s("test.echo")), None),
    ];
    let results = registry
        .dispatch("system.multicall", vec![Value::array(calls)])
        .await
        .unwrap();
    let results = results.as_array().expect("multicall returns an array");
    let failed = &results[0];
    assert_eq!(
        failed.get("faultCode"),
        Some(&Value::int(30)),
        "{results:?}"
    );
    assert!(
        failed
            .get("faultString")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("FAILED: ") && t.contains("late boom asked"))
    );
    assert_eq!(results[1], Value::array(vec![]));
}

#[tokio::test]
async fn namespaces_come_and_go_at_run_time() {
    let registry = registry();
    assert_eq!(
        registry.dispatch("other.echo", vec![]).await,
        fault(1, "UNKNOWN_METHOD")
    );
    registry.add(Arc::new(TestNamespace("other"))).unwrap();
    assert_eq!(
        registry.dispatch("other.echo", vec![]).await,
        Ok(Value::array(vec![]))
    );
    assert_eq!(registry.namespace_names(), vec!["other", "test"]);
    assert!(registry.remove("other").is_some());
    assert!(registry.remove("other").is_none());
    assert_eq!(
        registry.dispatch("other.echo", vec![]).await,
        fault(1, "UNKNOWN_METHOD")
    );
    let names = registry
        .dispatch("system.listMethods", vec![])
        .await
        .unwrap();
    let names = names.as_array().expect("listMethods returns an array");
    assert!(!names.contains(&s("other.echo")));
}

#[tokio::test(start_paused = true)]
async fn a_call_in_flight_finishes_after_its_namespace_is_removed() {
    let registry = Arc::new(registry());
    let running = {
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            registry
                .dispatch("test.slow", vec![Value::int(100), s("done")])
                .await
        })
    };
    tokio::task::yield_now().await;
    registry.remove("test");
    assert_eq!(running.await.unwrap(), Ok(s("done")));
}

#[test]
fn bad_registrations_are_refused_with_a_reason() {
    let registry = registry();
    assert_eq!(
        registry.add(Arc::new(TestNamespace("test"))),
        Err(RegistryError::DuplicateNamespace("test".into()))
    );
    for bad in ["", "a.b", "system"] {
        let leaked: &'static str = Box::leak(bad.to_owned().into_boxed_str());
        assert_eq!(
            registry.add(Arc::new(TestNamespace(leaked))),
            Err(RegistryError::InvalidNamespaceName(bad.into()))
        );
    }

    struct BadMethods(Vec<MethodInfo>);
    impl RpcNamespace for BadMethods {
        fn name(&self) -> &str {
            "bad"
        }
        fn methods(&self) -> Vec<MethodInfo> {
            self.0.clone()
        }
        fn call(&self, _: &str, _: Vec<Value>) -> BoxFuture<CallResult> {
            Box::pin(async { Ok(Value::nil()) })
        }
    }
    for name in ["_private", "a.b", ""] {
        let err = registry
            .add(Arc::new(BadMethods(vec![MethodInfo::new(name, "", &[])])))
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidMethodName { .. }),
            "{name}"
        );
    }
    let twice = vec![MethodInfo::new("m", "", &[]), MethodInfo::new("m", "", &[])];
    assert!(matches!(
        registry.add(Arc::new(BadMethods(twice))),
        Err(RegistryError::DuplicateMethod { .. })
    ));
    assert_eq!(registry.namespace_names(), vec!["test"]);
}

#[test]
fn a_multicall_fault_struct_has_the_two_reference_keys() {
    let value = system::fault_struct(&Fault::with(code::FAILED, "x"));
    assert_eq!(value.as_struct().map(<[_]>::len), Some(2));
    assert_eq!(value.get("faultCode"), Some(&Value::int(30)));
    assert_eq!(value.get("faultString"), Some(&Value::string("FAILED: x")));
}

#[tokio::test]
async fn list_methods_merges_system_between_the_namespaces_around_it() {
    let registry = Registry::new();
    registry.add(Arc::new(TestNamespace("alpha"))).unwrap();
    registry.add(Arc::new(TestNamespace("zulu"))).unwrap();
    let names = registry
        .dispatch("system.listMethods", vec![])
        .await
        .unwrap();
    let names: Vec<&str> = names
        .as_array()
        .expect("listMethods returns an array")
        .iter()
        .map(|name| name.as_str().expect("names are strings"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let system = names.iter().position(|n| n.starts_with("system."));
    assert!(system.is_some_and(|at| names[at - 1].starts_with("alpha.")));
    assert_eq!(names.iter().filter(|n| n.starts_with("system.")).count(), 4);
    assert!(names.last().is_some_and(|n| n.starts_with("zulu.")));
}
