//! What a citizen typed, as search items.
//!
//! The text is folded (no diacritics, lowercase) and split into words. Then:
//! - administrative markers are dropped: `q.`/`q` (quận), `p.`/`p` (phường), `tp` (thành
//!   phố), `tx`, `tt`, and the same letters glued to a number (`q1` -> `1`);
//! - words that name a kind of place (`quán`, `nhà hàng`, `cà phê`, `cf`, `ks`...) or an
//!   administrative level (`quận`, `phường`, `đường`...) become soft items: they count when
//!   the place has them and cost nothing when it does not, so `quan pho ba hoa` still finds
//!   `Phở Bà Hoa`. Abbreviations match every spelling of their kind (`cf` finds `Cà phê ...`
//!   and `Cafe ...`);
//! - every other word is a hard item: most of them must match the name or the place.

/// One thing the place should have: one of `forms` (each a phrase of folded words).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub forms: Vec<Vec<String>>,
    /// Optional: a kind or level word, not required to match.
    pub soft: bool,
}

impl Item {
    fn word(w: &str, soft: bool) -> Item {
        Item { forms: vec![vec![w.to_owned()]], soft }
    }

    /// The single word of a plain item (one form of one word): the only items that get typo
    /// tolerance and prefix matching.
    pub fn plain(&self) -> Option<&str> {
        match self.forms.as_slice() {
            [form] => match form.as_slice() {
                [w] => Some(w.as_str()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The most words a query may have: a canteen's name with its street and district take
/// fifteen. A longer one is refused, with this number, by the search route (422) and the SMS
/// (a reply that says so), never cut short. See [`too_long`].
pub const MAX_WORDS: usize = 20;

/// Whether a text has more than [`MAX_WORDS`] words.
pub fn too_long(text: &str) -> bool {
    civic::text::words(text).len() > MAX_WORDS
}

/// Markers that only say what follows is a district, ward or city.
const MARKERS: &[&str] = &["q", "p", "tp", "tx", "tt", "attp"];

/// Kinds of place: what may be typed (a phrase each) and how names spell them.
/// Phrases, each a list of folded words.
type Phrases = &'static [&'static [&'static str]];

const KINDS: &[(Phrases, Phrases)] = &[
    (
        &[&["cf"], &["cafe"], &["caphe"], &["ca", "phe"], &["coffee"], &["cofe"]],
        &[&["ca", "phe"], &["cafe"], &["coffee"]],
    ),
    (&[&["nh"], &["nha", "hang"], &["restaurant"]], &[&["nha", "hang"], &["restaurant"]]),
    (&[&["ks"], &["khach", "san"], &["hotel"]], &[&["khach", "san"], &["hotel"]]),
    (&[&["ch"], &["cua", "hang"]], &[&["cua", "hang"]]),
    (&[&["quan"]], &[&["quan"]]),
    (&[&["tiem"]], &[&["tiem"]]),
    (&[&["bep", "an", "tap", "the"], &["bep", "an"]], &[&["bep", "an", "tap", "the"], &["bep", "an"]]),
];

/// Administrative levels and `đường` (street): soft words, matched as typed.
const LEVELS: &[(Phrases, Phrases)] = &[
    (&[&["phuong"]], &[&["phuong"]]),
    (&[&["huyen"]], &[&["huyen"]]),
    (&[&["thanh", "pho"]], &[&["thanh", "pho"]]),
    (&[&["tinh"]], &[&["tinh"]]),
    (&[&["duong"]], &[&["duong"]]),
];

/// The words of a name that only say what kind of place it is (`quán`, `nhà hàng`...): a
/// name is matched exactly when everything else in it is.
pub fn generic_spans(name: &[&str]) -> Vec<bool> {
    let mut generic = vec![false; name.len()];
    for (_, spellings) in KINDS {
        for form in *spellings {
            for start in 0..name.len() {
                if name[start..].starts_with(form) {
                    generic[start..start + form.len()].iter_mut().for_each(|g| *g = true);
                }
            }
        }
    }
    generic
}

fn starts_with(words: &[String], phrase: &[&str]) -> bool {
    words.len() >= phrase.len() && words.iter().zip(phrase).all(|(w, p)| w == p)
}

fn marker_number(w: &str) -> Option<&str> {
    ["q", "p"].iter().find_map(|m| w.strip_prefix(m)).filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Parses what a citizen typed, every word of it (callers refuse a text [`too_long`]).
pub fn parse(text: &str) -> Vec<Item> {
    let words = civic::text::words(text);
    let mut items = Vec::new();
    let mut i = 0;
    'words: while i < words.len() {
        let w = words[i].as_str();
        if MARKERS.contains(&w) {
            i += 1;
            continue;
        }
        if let Some(n) = marker_number(w) {
            items.push(Item::word(n, false));
            i += 1;
            continue;
        }
        for (typed, spellings) in KINDS.iter().chain(LEVELS) {
            if let Some(t) = typed.iter().filter(|t| starts_with(&words[i..], t)).max_by_key(|t| t.len()) {
                let forms = spellings.iter().map(|f| f.iter().map(|s| (*s).to_owned()).collect()).collect();
                items.push(Item { forms, soft: true });
                i += t.len();
                continue 'words;
            }
        }
        items.push(Item::word(w, false));
        i += 1;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(items: &[Item]) -> String {
        items
            .iter()
            .map(|it| {
                let forms: Vec<String> = it.forms.iter().map(|f| f.join(" ")).collect();
                format!("{}{}", if it.soft { "~" } else { "" }, forms.join("|"))
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }

    #[test]
    fn parse_table() {
        let cases = [
            ("Phở Bà Hoa", "pho / ba / hoa"),
            ("pho ba hao", "pho / ba / hao"),
            ("com ga q. hai chau", "com / ga / hai / chau"),
            ("bun bo p.Thach Thang", "bun / bo / thach / thang"),
            ("quán phở bà hoa", "~quan / pho / ba / hoa"),
            ("nhà hàng sông hàn", "~nha hang|restaurant / song / han"),
            ("nh song han", "~nha hang|restaurant / song / han"),
            ("cf moc", "~ca phe|cafe|coffee / moc"),
            ("ca phe moc", "~ca phe|cafe|coffee / moc"),
            ("ks my khe tp da nang", "~khach san|hotel / my / khe / da / nang"),
            ("pho 24 q1", "pho / 24 / 1"),
            ("ATTP pho", "pho"),
            ("thu hang", "thu / hang"),
            ("", ""),
            ("a b c d e f g h i j k l", "a / b / c / d / e / f / g / h / i / j / k / l"),
            ("bep an tap the truong le lai", "~bep an tap the|bep an / truong / le / lai"),
        ];
        for (input, want) in cases {
            assert_eq!(show(&parse(input)), want, "parse({input:?})");
        }
    }

    #[test]
    fn more_than_max_words_is_too_long() {
        assert!(!too_long(&["a"; MAX_WORDS].join(" ")));
        assert!(too_long(&["a"; MAX_WORDS + 1].join(" ")));
        assert!(!too_long("Quán Bánh xèo Bà Dưỡng, Hoàng Diệu, Hải Châu"));
    }

    #[test]
    fn generic_words_of_names() {
        let name = ["quan", "pho", "ba", "hoa"];
        assert_eq!(generic_spans(&name), [true, false, false, false]);
        let name = ["nha", "hang", "hai", "san", "be", "man"];
        assert_eq!(generic_spans(&name), [true, true, false, false, false, false]);
        let name = ["pho", "thu", "hang"];
        assert_eq!(generic_spans(&name), [false, false, false]);
    }
}
