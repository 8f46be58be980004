//! Printing any syntax tree and parsing the result gives back the same tree (spans aside).

use jql::ast::{
    Clause, CompoundClause, Field, FieldName, FieldProperty, FunctionCall, Literal, NotClause,
    Operand, OperandList, Operator, OrderBy, Predicate, PredicateKind, Query, Sort, SortDirection,
    Span, TerminalClause,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z][a-zA-Z0-9._-]{0,8}",
        1 => prop::sample::select(vec![
            "and", "OR", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc", "cf", "select", "was",
            "changed", "from", "to", "on", "-", "12", "-5", "-5d", "007", "", " ", "a b", "it's", "say \"hi\"",
            "back\\slash", "tab\there", "line\nbreak", "%", "a*", "ü✓", "😀", "\u{1}", "\u{fdd0}", "\u{ffff}",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
    ]
}

fn digits() -> impl Strategy<Value = String> {
    "-?[0-9]{1,6}"
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![3 => text().prop_map(Literal::string), 1 => digits().prop_map(Literal::number)]
}

fn function() -> impl Strategy<Value = FunctionCall> {
    (literal(), prop::collection::vec(literal(), 0..3)).prop_map(|(name, args)| FunctionCall {
        name,
        args,
        span: Span::default(),
    })
}

fn field() -> impl Strategy<Value = Field> {
    let property =
        (literal(), prop::collection::vec(literal(), 0..3)).prop_map(|(key, path)| FieldProperty {
            key,
            path,
            span: Span::default(),
        });
    let named = prop_oneof![
        3 => text().prop_map(FieldName::Name),
        1 => "[0-9]{1,8}".prop_map(FieldName::Custom),
    ];
    prop_oneof![
        6 => (named, prop::collection::vec(property, 0..2))
            .prop_map(|(name, properties)| Field { name, properties, span: Span::default() }),
        1 => digits().prop_map(|d| Field { name: FieldName::Number(d), properties: Vec::new(), span: Span::default() }),
    ]
}

fn any_operand() -> impl Strategy<Value = Operand> {
    let leaf = prop_oneof![
        Just(Operand::Empty(Span::default())),
        literal().prop_map(Operand::Literal),
        function().prop_map(Operand::Function),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|items| {
            Operand::List(OperandList {
                items,
                span: Span::default(),
            })
        })
    })
}

fn list_or_function() -> BoxedStrategy<Operand> {
    prop_oneof![
        prop::collection::vec(any_operand(), 1..4).prop_map(|items| Operand::List(OperandList {
            items,
            span: Span::default()
        })),
        function().prop_map(Operand::Function),
    ]
    .boxed()
}

fn value_or_function(empty: bool) -> BoxedStrategy<Operand> {
    let value = prop_oneof![
        literal().prop_map(Operand::Literal),
        function().prop_map(Operand::Function)
    ];
    if empty {
        prop_oneof![1 => Just(Operand::Empty(Span::default())), 3 => value].boxed()
    } else {
        value.boxed()
    }
}

fn predicates(changed: bool) -> impl Strategy<Value = Vec<Predicate>> {
    let mut kinds = vec![
        PredicateKind::After,
        PredicateKind::Before,
        PredicateKind::On,
        PredicateKind::During,
        PredicateKind::By,
    ];
    if changed {
        kinds.extend([PredicateKind::From, PredicateKind::To]);
    }
    let predicate =
        (prop::sample::select(kinds), any_operand()).prop_map(|(kind, operand)| Predicate {
            kind,
            operand,
            span: Span::default(),
        });
    prop::collection::vec(predicate, 0..3)
}

fn terminal() -> impl Strategy<Value = TerminalClause> {
    (field(), prop::sample::select(Operator::ALL.to_vec())).prop_flat_map(|(field, operator)| {
        use Operator as O;
        let operand: BoxedStrategy<Option<Operand>> = match operator {
            O::Equals | O::NotEquals | O::Like | O::NotLike | O::Was | O::WasNot => {
                value_or_function(true).prop_map(Some).boxed()
            }
            O::LessThan | O::GreaterThan | O::LessThanEquals | O::GreaterThanEquals => {
                value_or_function(false).prop_map(Some).boxed()
            }
            O::In | O::NotIn | O::WasIn | O::WasNotIn => list_or_function().prop_map(Some).boxed(),
            O::Is | O::IsNot => Just(Some(Operand::Empty(Span::default()))).boxed(),
            O::Changed => Just(None).boxed(),
        };
        let predicates = if operator.is_history() {
            predicates(operator == O::Changed).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (Just(field), Just(operator), operand, predicates).prop_map(
            |(field, operator, operand, predicates)| TerminalClause {
                field,
                operator,
                operand,
                predicates,
                span: Span::default(),
            },
        )
    })
}

fn clause() -> impl Strategy<Value = Clause> {
    terminal()
        .prop_map(Clause::Terminal)
        .prop_recursive(5, 24, 4, |inner| {
            let compound = prop::collection::vec(inner.clone(), 2..4);
            prop_oneof![
                compound
                    .clone()
                    .prop_map(|clauses| Clause::Or(CompoundClause {
                        clauses,
                        span: Span::default()
                    })),
                compound.prop_map(|clauses| Clause::And(CompoundClause {
                    clauses,
                    span: Span::default()
                })),
                inner.prop_map(|c| Clause::Not(NotClause {
                    clause: Box::new(c),
                    span: Span::default()
                })),
            ]
        })
}

fn order_by() -> impl Strategy<Value = OrderBy> {
    let direction = prop_oneof![
        Just(None),
        Just(Some(SortDirection::Asc)),
        Just(Some(SortDirection::Desc))
    ];
    let sort = (field(), direction).prop_map(|(field, direction)| Sort {
        field,
        direction,
        span: Span::default(),
    });
    prop::collection::vec(sort, 1..4).prop_map(|sorts| OrderBy {
        sorts,
        span: Span::default(),
    })
}

fn query() -> impl Strategy<Value = Query> {
    (
        prop::option::weighted(0.9, clause()),
        prop::option::of(order_by()),
    )
        .prop_map(|(clause, order_by)| Query {
            clause,
            order_by,
            span: Span::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(q in query()) {
        let printed = q.to_string();
        let parsed = jql::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        prop_assert!(parsed.same_as(&q), "printed {:?}\nparsed  {:?}\nwanted  {:?}", printed, parsed, q);
        // Canonical means printing is a fixed point.
        prop_assert_eq!(parsed.to_string(), printed);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(src in any::<String>()) {
        if let Ok(q) = jql::parse(&src) {
            let printed = q.to_string();
            let again = jql::parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
            prop_assert!(again.same_as(&q));
        }
    }
}
