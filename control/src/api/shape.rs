//! The shape of the API's members, said once per type: what `ctl` turns into flags (names,
//! kinds, help), what decoding checks for required members, and what the tests compare with
//! botocore's EC2 model. A request is declared with [`api_struct!`], which writes the serde
//! struct and its shape from the same list of members.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a member holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    String,
    Integer,
    Boolean,
    /// A string from a fixed set.
    Enum(&'static [&'static str]),
    List(Box<Shape>),
    Structure(Vec<Member>),
}

/// One member of a structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// As EC2 spells it (`TrafficMirrorSessionId`).
    pub name: &'static str,
    /// Its documentation, one line per element (the source's doc comments).
    pub doc: &'static [&'static str],
    pub required: bool,
    pub shape: Shape,
}

impl Member {
    /// The documentation as one paragraph.
    pub fn help(&self) -> String {
        self.doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
    }
}

/// A type the API carries, and its shape.
pub trait HasShape {
    fn shape() -> Shape;
    /// Whether a request must give it: true unless optional by type (Option, Vec, bool).
    fn required() -> bool {
        true
    }
}

macro_rules! scalar {
    ($shape:ident: $($t:ty),*) => { $(impl HasShape for $t { fn shape() -> Shape { Shape::$shape } })* };
}
scalar!(String: String, Ipv4Addr, Ipv6Addr, IpAddr, ipnet::IpNet, crate::config::Mac);
scalar!(Integer: u8, u16, u32, u64, i64);

impl HasShape for bool {
    fn shape() -> Shape {
        Shape::Boolean
    }
    fn required() -> bool {
        false
    }
}

impl<T: HasShape> HasShape for Option<T> {
    fn shape() -> Shape {
        T::shape()
    }
    fn required() -> bool {
        false
    }
}

impl<T: HasShape> HasShape for Vec<T> {
    fn shape() -> Shape {
        Shape::List(Box::new(T::shape()))
    }
    fn required() -> bool {
        false
    }
}

/// For `skip_serializing_if`: a member left at its default is not sent.
pub fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Declares an API structure: the serde struct (members renamed to EC2's names, every member
/// defaulted so that decoding can report a missing required one as EC2's `MissingParameter`
/// rather than as a serde error) and its [`HasShape`], from one list of members.
#[macro_export]
macro_rules! api_struct {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident ($member:literal): $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[serde(rename = $member, default, skip_serializing_if = "crate::api::shape::is_default")]
                pub $field: $ty,
            )*
        }

        impl $crate::api::shape::HasShape for $name {
            fn shape() -> $crate::api::shape::Shape {
                $crate::api::shape::Shape::Structure(vec![$(
                    $crate::api::shape::Member {
                        name: $member,
                        doc: &[$($fdoc),*],
                        required: <$ty as $crate::api::shape::HasShape>::required(),
                        shape: <$ty as $crate::api::shape::HasShape>::shape(),
                    }
                ),*])
            }
        }
    };
}

/// Declares an API enum: a fixed set of strings, as EC2 spells them.
#[macro_export]
macro_rules! api_enum {
    ($(#[doc = $doc:literal])* pub enum $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),*
        }

        impl $name {
            /// Every value, as EC2 spells them.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// As EC2 spells it.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl $crate::api::shape::HasShape for $name {
            fn shape() -> $crate::api::shape::Shape {
                $crate::api::shape::Shape::Enum(Self::NAMES)
            }
        }
    };
}

impl HasShape for crate::config::Direction {
    fn shape() -> Shape {
        Shape::Enum(&["ingress", "egress"])
    }
}

impl HasShape for crate::config::RuleAction {
    fn shape() -> Shape {
        Shape::Enum(&["accept", "reject"])
    }
}

impl HasShape for crate::config::NetworkService {
    fn shape() -> Shape {
        Shape::Enum(&["amazon-dns"])
    }
}

impl HasShape for crate::config::HealthCheckProtocol {
    fn shape() -> Shape {
        Shape::Enum(&["tcp", "icmp"])
    }
}

impl HasShape for crate::config::TargetType {
    fn shape() -> Shape {
        Shape::Enum(&["network-interface", "network-load-balancer", "gateway-load-balancer-endpoint"])
    }
}
