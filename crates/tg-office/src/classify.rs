//! Which way a call went and where: internal, inbound, outbound national, international,
//! premium/shared-cost, satellite/global — from the dialled digits, the home country and its
//! dialling prefixes, using libphonenumber's data (the `phonenumber` crate).
//!
//! Country resolution follows the number, not its prefix: `+1 876` is Jamaica and `+1 809` the
//! Dominican Republic although both dial like US numbers. When the library knows the calling
//! code but no region (it returns none for some Italian numbers, and for the global codes
//! `+881/+882/+883/+870/+800/…`), the calling code's main region or `+CODE` stands in.
//!
//! Parsing a number with libphonenumber costs microseconds (milliseconds the first time a region
//! is seen), too slow for ten million records, so results are cached by the number's first
//! [`CACHE_PREFIX_DIGITS`] digits and its length: numbers that share both are assumed to share
//! country and type (libphonenumber's ranges are all at least that coarse in practice).

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::Type;

/// Digits of a number that key the classification cache.
pub const CACHE_PREFIX_DIGITS: usize = 6;

/// Calling codes that belong to no country: satellite, global services, international networks.
const GLOBAL_CODES: [u16; 8] = [800, 808, 870, 878, 881, 882, 883, 979];

/// The kind of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Extension to extension.
    Internal,
    /// From outside to the PBX.
    Inbound,
    /// Outbound within the home country.
    National,
    /// Outbound to another country.
    International,
    /// Outbound to premium-rate or shared-cost numbers (home or abroad).
    Premium,
    /// Outbound to satellite or global (non-geographic) codes.
    Satellite,
}

impl Category {
    /// The name used in JSON and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Internal => "internal",
            Category::Inbound => "inbound",
            Category::National => "national",
            Category::International => "international",
            Category::Premium => "premium",
            Category::Satellite => "satellite",
        }
    }

    /// True for calls that leave the PBX.
    pub fn is_outbound(self) -> bool {
        !matches!(self, Category::Internal | Category::Inbound)
    }
}

/// A destination country: an ISO alpha-2 code, `+CODE` for a global code, or `??`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country {
    bytes: [u8; 4],
    len: u8,
}

impl Country {
    /// Unknown (an external number that could not be parsed).
    pub const UNKNOWN: Country = Country {
        bytes: *b"??\0\0",
        len: 2,
    };

    /// From text of at most 4 ASCII bytes; longer text is cut.
    pub fn new(text: &str) -> Country {
        let mut bytes = [0u8; 4];
        let src = text.as_bytes();
        let len = src.len().min(4);
        bytes[..len].copy_from_slice(&src[..len]);
        Country {
            bytes,
            len: len as u8,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Where an outbound number goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The kind (never `Internal`/`Inbound`).
    pub category: Category,
    /// The country.
    pub country: Country,
    /// True when the country is not the home country.
    pub international: bool,
}

/// The classification of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallClass {
    /// The kind.
    pub category: Category,
    /// For outbound calls, the destination.
    pub destination: Option<Destination>,
}

/// The configuration could not be used for classification.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// `home_country` is not a region libphonenumber knows.
    #[error("calls.home_country: {0:?} is not a country the numbering plan knows")]
    UnknownCountry(String),
}

/// The home country and how people dial from it.
#[derive(Clone, Debug)]
pub struct Dialplan {
    home: Id,
    home_country: Country,
    home_code: u16,
    international_prefix: Vec<u8>,
    trunk_prefix: Vec<u8>,
    internal_max_digits: usize,
    inbound_contexts: Vec<Vec<u8>>,
}

impl Dialplan {
    /// From `[calls]`.
    pub fn from_config(c: &tg_config::calls::CallsConfig) -> Result<Dialplan, ClassifyError> {
        Dialplan::new(
            c.home_country.get_ref(),
            c.international_prefix.get_ref(),
            c.trunk_prefix.get_ref(),
            c.internal_max_digits,
            &c.inbound_contexts,
        )
    }

    /// From explicit values; an empty `international_prefix` means the country's usual one.
    pub fn new(
        home_country: &str,
        international_prefix: &str,
        trunk_prefix: &str,
        internal_max_digits: usize,
        inbound_contexts: &[String],
    ) -> Result<Dialplan, ClassifyError> {
        let unknown = || ClassifyError::UnknownCountry(home_country.to_string());
        let home = Id::from_str(home_country).map_err(|_| unknown())?;
        let meta = DATABASE.by_id(home.as_ref()).ok_or_else(unknown)?;
        let home_code = meta.country_code();
        let international_prefix = if international_prefix.is_empty() {
            if home_code == 1 {
                "011".into()
            } else {
                "00".into()
            }
        } else {
            international_prefix.to_string()
        };
        Ok(Dialplan {
            home,
            home_country: Country::new(home.as_ref()),
            home_code,
            international_prefix: international_prefix.into_bytes(),
            trunk_prefix: trunk_prefix.as_bytes().to_vec(),
            internal_max_digits,
            inbound_contexts: inbound_contexts
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect(),
        })
    }

    /// True when calls in `context` come from outside.
    pub fn is_inbound_context(&self, context: &[u8]) -> bool {
        self.inbound_contexts.iter().any(|c| c == context)
    }

    /// The home country.
    pub fn home_country(&self) -> Country {
        self.home_country
    }
}

/// A number as dialled, reduced to digits and its form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// Starts with `+` or the international prefix: digits are the E.164 number without `+`.
    International,
    /// Digits as dialled within the country.
    National,
}

/// Classifies calls, caching libphonenumber's answers by number prefix.
pub struct Classifier {
    plan: Dialplan,
    cache: crate::fasthash::FxHashMap<u64, Destination>,
    digits: Vec<u8>,
    /// Cache statistics: (hits, misses).
    pub cache_stats: (u64, u64),
}

/// The cache never grows beyond this many entries (it is cleared when full).
const CACHE_MAX: usize = 1 << 20;

impl Classifier {
    /// A classifier for `plan`.
    pub fn new(plan: Dialplan) -> Classifier {
        Classifier {
            plan,
            cache: Default::default(),
            digits: Vec::with_capacity(32),
            cache_stats: (0, 0),
        }
    }

    /// The digits of the last number given to [`Classifier::classify_number`], without trunk or
    /// international prefix.
    pub fn last_digits(&self) -> &[u8] {
        &self.digits
    }

    /// The dial plan.
    pub fn plan(&self) -> &Dialplan {
        &self.plan
    }

    /// Classifies a CDR's call from its source, destination and context.
    pub fn classify_call(&mut self, src: &[u8], dst: &[u8], dcontext: &[u8]) -> CallClass {
        let inbound = CallClass {
            category: Category::Inbound,
            destination: None,
        };
        if self.plan.inbound_contexts.iter().any(|c| c == dcontext) {
            return inbound;
        }
        match self.classify_number(dst) {
            Some(d) => CallClass {
                category: d.category,
                destination: Some(d),
            },
            None if digit_count(src) > self.plan.internal_max_digits => inbound,
            None => CallClass {
                category: Category::Internal,
                destination: None,
            },
        }
    }

    /// Classifies a dialled number; `None` when it is an extension or not a number at all.
    pub fn classify_number(&mut self, dialled: &[u8]) -> Option<Destination> {
        let form = self.normalise(dialled)?;
        let digits = &self.digits;
        let mut key: u64 = match form {
            Form::International => 1,
            Form::National => 2,
        };
        key = key << 5 | digits.len().min(31) as u64;
        for &d in digits.iter().take(CACHE_PREFIX_DIGITS) {
            key = key << 4 | u64::from(d - b'0');
        }
        key <<= 4 * (CACHE_PREFIX_DIGITS - digits.len().min(CACHE_PREFIX_DIGITS));
        if let Some(d) = self.cache.get(&key) {
            self.cache_stats.0 += 1;
            return Some(*d);
        }
        self.cache_stats.1 += 1;
        let d = self.resolve(form);
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(key, d);
        Some(d)
    }

    /// Puts the dialled digits (without trunk or international prefix) into `self.digits`.
    fn normalise(&mut self, dialled: &[u8]) -> Option<Form> {
        let plan = &self.plan;
        let (plus, rest) = match dialled.strip_prefix(b"+") {
            Some(r) => (true, r),
            None => (false, dialled),
        };
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) || rest.len() > 24 {
            return None;
        }
        if rest.len() <= plan.internal_max_digits && !plus {
            return None;
        }
        let mut rest = rest;
        if !plus && !plan.trunk_prefix.is_empty() {
            if let Some(r) = rest.strip_prefix(plan.trunk_prefix.as_slice()) {
                if r.len() > plan.internal_max_digits {
                    rest = r;
                }
            }
        }
        let (form, number) = if plus {
            (Form::International, rest)
        } else if let Some(r) = rest.strip_prefix(plan.international_prefix.as_slice()) {
            (Form::International, r)
        } else {
            (Form::National, rest)
        };
        if number.is_empty() {
            return None;
        }
        self.digits.clear();
        self.digits.extend_from_slice(number);
        Some(form)
    }

    fn resolve(&self, form: Form) -> Destination {
        let digits = std::str::from_utf8(&self.digits).unwrap_or("");
        let parsed = match form {
            Form::International => phonenumber::parse(None, format!("+{digits}")),
            Form::National => phonenumber::parse(Some(self.plan.home), digits),
        };
        let unknown_category = match form {
            Form::International => Category::International,
            Form::National => Category::National,
        };
        let Ok(number) = parsed else {
            return Destination {
                category: unknown_category,
                country: Country::UNKNOWN,
                international: form == Form::International,
            };
        };
        let code = number.code().value();
        let country = match number.country().id() {
            Some(id) => Country::new(id.as_ref()),
            None if GLOBAL_CODES.contains(&code) => Country::new(&format!("+{code}")),
            None => DATABASE
                .by_code(&code)
                .and_then(|m| m.first().map(|m| m.id().to_string()))
                .filter(|id| id.len() == 2)
                .map(|id| Country::new(&id))
                .unwrap_or_else(|| Country::new(&format!("+{code}"))),
        };
        let international = country != self.plan.home_country;
        let kind = number.number_type(&DATABASE);
        let category = if GLOBAL_CODES.contains(&code) {
            Category::Satellite
        } else if matches!(kind, Type::PremiumRate | Type::SharedCost) {
            Category::Premium
        } else if international || code != self.plan.home_code {
            Category::International
        } else {
            Category::National
        };
        Destination {
            category,
            country,
            international: international || category == Category::Satellite,
        }
    }
}

fn digit_count(s: &[u8]) -> usize {
    s.iter().filter(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Classifier {
        Classifier::new(Dialplan::new("US", "", "9", 5, &["from-trunk".into()]).unwrap())
    }

    fn dest(c: &mut Classifier, n: &str) -> (Category, String, bool) {
        let d = c.classify_number(n.as_bytes()).unwrap();
        (d.category, d.country.to_string(), d.international)
    }

    #[test]
    fn us_dialling() {
        let mut c = us();
        use Category::*;
        assert_eq!(dest(&mut c, "2125551234"), (National, "US".into(), false));
        assert_eq!(dest(&mut c, "912125551234"), (National, "US".into(), false));
        assert_eq!(
            dest(&mut c, "9011442079460000"),
            (International, "GB".into(), true)
        );
        assert_eq!(
            dest(&mut c, "+442079460000"),
            (International, "GB".into(), true)
        );
        assert_eq!(
            dest(&mut c, "011449098790000"),
            (Premium, "GB".into(), true)
        );
        assert_eq!(dest(&mut c, "19005551234"), (Premium, "US".into(), false));
        // Caribbean NANP: dials like a US number, is abroad.
        assert_eq!(
            dest(&mut c, "18095551234"),
            (International, "DO".into(), true)
        );
        assert_eq!(
            dest(&mut c, "98765551234"),
            (International, "JM".into(), true)
        );
        assert_eq!(
            dest(&mut c, "0118816212345678"),
            (Satellite, "+881".into(), true)
        );
        assert_eq!(
            dest(&mut c, "011882991234567"),
            (Satellite, "+882".into(), true)
        );
        // Italy: no region from the library, the calling code's main region stands in.
        assert_eq!(
            dest(&mut c, "011390612345678"),
            (International, "IT".into(), true)
        );
        assert_eq!(dest(&mut c, "01137190123456"), (Premium, "LV".into(), true));
        assert_eq!(dest(&mut c, "+9990000000").1, "??");
        assert_eq!(c.classify_number(b"1001"), None);
        assert_eq!(c.classify_number(b"s"), None);
        assert_eq!(c.classify_number(b"*97"), None);
    }

    #[test]
    fn other_home_country() {
        let mut c = Classifier::new(Dialplan::new("GB", "", "", 4, &[]).unwrap());
        assert_eq!(
            dest(&mut c, "02079460000"),
            (Category::National, "GB".into(), false)
        );
        assert_eq!(
            dest(&mut c, "0033142685300"),
            (Category::International, "FR".into(), true)
        );
        assert!(Dialplan::new("XX", "", "", 4, &[]).is_err());
    }

    #[test]
    fn calls_get_directions() {
        let mut c = us();
        let k = |c: &mut Classifier, s: &str, d: &str, ctx: &str| {
            c.classify_call(s.as_bytes(), d.as_bytes(), ctx.as_bytes())
                .category
        };
        assert_eq!(
            k(&mut c, "1001", "1002", "from-internal"),
            Category::Internal
        );
        assert_eq!(
            k(&mut c, "2125551234", "1002", "from-internal"),
            Category::Inbound
        );
        assert_eq!(
            k(&mut c, "2125551234", "s", "from-trunk"),
            Category::Inbound
        );
        assert_eq!(
            k(&mut c, "1001", "9011442079460000", "from-internal"),
            Category::International
        );
    }

    #[test]
    fn cache_serves_same_prefix() {
        let mut c = us();
        let a = dest(&mut c, "011442079460001");
        let b = dest(&mut c, "011442079460999");
        assert_eq!(a, b);
        assert_eq!(c.cache_stats, (1, 1));
    }
}
