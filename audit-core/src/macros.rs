//! Internal macros.

/// `as_str`, `Display` and `FromStr` for a fieldless enum with fixed names.
macro_rules! str_enum {
    ($($ty:ty { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// The lowercase name used in JSON, query parameters and CSV.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = crate::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    _ => Err(crate::ParseEnumError { what: stringify!($ty), found: s.into(), expected: &[$($name),+] }),
                }
            }
        }
    )+};
}
