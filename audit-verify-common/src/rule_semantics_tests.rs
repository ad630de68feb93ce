use super::*;

#[test]
fn operators_keep_their_kernel_numbers() {
    for op in Op::ALL {
        assert_eq!(Op::from_code(op.code()), Some(op));
        assert_eq!(Op::try_from(op.code()), Ok(op));
    }
    assert_eq!(Op::Eq.code(), 0x4000_0000, "AUDIT_EQUAL");
    assert_eq!(Op::BitTest.code(), Op::BitMask.code() | Op::Eq.code(), "AUDIT_BIT_TEST");
    assert_eq!(Op::Ge.code(), Op::Gt.code() | Op::Eq.code(), "AUDIT_GREATER_THAN_OR_EQUAL");
    assert_eq!(Op::from_code(0x1234), None);
    assert_eq!(Op::try_from(0), Err(0));
}

/// Every pair of conditions `(op_a, a)`, `(op_b, b)` on a field of 2, 3 and 4 bits, with the field's
/// largest value.
fn every_condition_pair(mut check: impl FnMut(u32, u32, (Op, u32), (Op, u32))) {
    for bits in [2, 3, 4] {
        let max = (1u32 << bits) - 1;
        for op_a in Op::ALL {
            for op_b in Op::ALL {
                for a in 0..=max {
                    for b in 0..=max {
                        check(bits, max, (op_a, a), (op_b, b));
                    }
                }
            }
        }
    }
}

/// For every pair of conditions on a k-bit field, `implies` must say exactly whether every value that
/// satisfies the first satisfies the second.
#[test]
fn implication_agrees_with_compare_exhaustively() {
    every_condition_pair(|bits, max, (op_a, a), (op_b, b)| {
        let truth = (0..=max).all(|x| !compare(op_a, x, a) || compare(op_b, x, b));
        let (sa, sb) = (op_a.symbol(), op_b.symbol());
        assert_eq!(implies_within(max, (op_a, a), (op_b, b)), truth, "{bits} bits: x{sa}{a} => x{sb}{b}");
    });
}

/// For every pair of conditions on a k-bit field, `compatible` must say exactly whether some value
/// satisfies both.
#[test]
fn compatibility_agrees_with_compare_exhaustively() {
    every_condition_pair(|bits, max, (op_a, a), (op_b, b)| {
        let truth = (0..=max).any(|x| compare(op_a, x, a) && compare(op_b, x, b));
        let (sa, sb) = (op_a.symbol(), op_b.symbol());
        assert_eq!(compatible_within(max, (op_a, a), (op_b, b)), truth, "{bits} bits: x{sa}{a} and x{sb}{b}");
    });
}

#[test]
fn implication_at_the_ends_of_u32() {
    assert!(implies((Op::Gt, u32::MAX), (Op::Eq, 7)), "nothing is above u32::MAX");
    assert!(!implies((Op::Ge, u32::MAX), (Op::Lt, 7)));
    assert!(implies((Op::Eq, 1000), (Op::Ne, UNSET)));
    assert!(implies((Op::Ge, 1000), (Op::Gt, 999)));
    assert!(implies((Op::BitTest, 0x41), (Op::BitMask, 0x40)));
    assert!(!implies((Op::BitMask, 0x41), (Op::BitMask, 0x40)));
    assert!(!compatible((Op::Ge, 1000), (Op::Lt, 1000)));
    assert!(compatible((Op::Ge, 1000), (Op::Ne, UNSET)));
    assert!(!compatible((Op::Gt, u32::MAX), (Op::Ne, 0)));
}

#[test]
fn id_fields_never_match_bit_operators() {
    assert!(compare(Op::BitMask, 3, 1));
    assert!(!compare_id(Op::BitMask, 3, 1));
    assert!(!compare_field(id::UID, Op::BitTest, 3, 1));
    assert!(compare_field(id::ARG0, Op::BitTest, 3, 1));
    assert!(compare_field(id::LOGINUID, Op::Ge, 1000, 1000));
}

#[test]
fn return_values_as_audit_sees_them() {
    assert!(succeeded(0) && succeeded(-4096) && succeeded(i64::MIN));
    assert!(!succeeded(-1) && !succeeded(-MAX_ERRNO));
    // The restart codes the signal code rewrites are compared as -EINTR; ENOIOCTLCMD is not one.
    assert_eq!(exit_value(-512), (-4i32).cast_unsigned());
    assert_eq!(exit_value(-514), (-4i32).cast_unsigned());
    assert_eq!(exit_value(-516), (-4i32).cast_unsigned());
    assert_eq!(exit_value(-515), (-515i32).cast_unsigned());
    assert_eq!(exit_value(-13), (-13i32).cast_unsigned());
    assert_eq!(exit_value(0x1_0000_0005), 5, "the low 32 bits");
    assert!(!compare(Op::Lt, exit_value(-13), 0), "exit<0 never matches: the comparison is unsigned");
}

#[test]
fn success_compares_return_valid() {
    for ok in [true, false] {
        assert_eq!(success_holds(Op::Eq, 1, ok), ok);
        assert_eq!(success_holds(Op::Eq, 2, ok), ok, "any non-zero value means success");
        assert_eq!(success_holds(Op::Eq, 0, ok), !ok);
        assert_eq!(success_holds(Op::Ne, 0, ok), ok);
    }
    // return_valid is 1 for success and 2 for failure: `success>1` is "failed", `success>0` never holds.
    assert!(success_holds(Op::Gt, 1, false));
    assert!(!success_holds(Op::Gt, 1, true));
    assert!(!success_holds(Op::Gt, 0, false) && !success_holds(Op::Gt, 0, true));
}

#[test]
fn arch_and_mask() {
    assert!(arch_admits(Op::Eq, ARCH_B64, ARCH_B64));
    assert!(!arch_admits(Op::Eq, ARCH_B64, ARCH_B32));
    assert!(arch_admits(Op::Ne, ARCH_B64, ARCH_B32));
    let mut mask = [0; MASK_WORDS];
    mask[1] = 1 << 3;
    assert!(in_mask(&mask, 35));
    assert!(!in_mask(&mask, 3));
    assert!(!in_mask(&mask, MASK_BITS));
}

#[test]
fn the_first_matching_rule_decides() {
    let list = [Match::No, Match::Yes, Match::Undecided, Match::Yes];
    let walk = |count| first_match::<()>(count, 64, |i| Ok(list[i as usize]));
    assert_eq!(walk(4), Ok(FirstMatch::Rule(1)));
    assert_eq!(walk(1), Ok(FirstMatch::None));
    let undecided_first = first_match::<()>(4, 64, |i| Ok(list[(i as usize + 2) % 4]));
    assert_eq!(undecided_first, Ok(FirstMatch::Undecided(0)));
    assert_eq!(first_match(4, 64, |i| if i == 1 { Err(i) } else { Ok(Match::No) }), Err(1));
    assert_eq!(first_match::<()>(10, 2, |_| Ok(Match::No)), Ok(FirstMatch::None), "max bounds the walk");
}
