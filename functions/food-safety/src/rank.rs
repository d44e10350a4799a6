//! How well a place matches a query, and which places count as matches at all.
//!
//! Each query item is matched against the name's words first, then the place's (address,
//! ward, district, province): exactly, as the start of a word (`ngu` for `nguyen`, two
//! letters at least), or within its typo tolerance (see [`crate::fuzzy`]); a name match
//! weighs more than a place match. On top of that the whole name counts: a name made of
//! exactly the query's words (kind words like `quán` aside) beats a name that starts with
//! them, which beats the rest; words of the name the query did not mention cost a little,
//! and hard query words that matched nothing cost a lot. A place is a match when at least one
//! item hits its name (words that spell a ward or district do not count for this, unless
//! they are the whole name) and at most a third of the hard items miss. A place word two typos
//! away is no match, and a kind word of the name (`quán`) answers only itself and its typos.
//!
//! The certificate never enters the score: it only breaks ties, after it.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use crate::model::CertificateStatus;
use crate::phrase::{Item, generic_spans};
use crate::store::Summary;

/// What the index says about the plain query words.
#[derive(Clone, Debug, Default)]
pub struct Near {
    /// Indexed words near each word (typo tolerance), with their distance.
    pub corrections: HashMap<String, Vec<(String, usize)>>,
    /// The words the index holds as typed (so they are words, not typos).
    pub known: HashSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Hit {
    Fuzzy2,
    Fuzzy1,
    Prefix,
    Exact,
}

impl Hit {
    fn name_points(self) -> i64 {
        match self {
            Hit::Exact => 100,
            Hit::Prefix => 70,
            Hit::Fuzzy1 => 60,
            Hit::Fuzzy2 => 40,
        }
    }

    /// A place word two typos away is no match: the address, ward and district words are
    /// few and common (`nang` is everywhere), so that far they match anything.
    fn place_points(self) -> Option<i64> {
        match self {
            Hit::Exact => Some(45),
            Hit::Prefix => Some(30),
            Hit::Fuzzy1 => Some(15),
            Hit::Fuzzy2 => None,
        }
    }
}

pub const EXACT_NAME: i64 = 60;
/// Every word of the name answered, some of them loosely (a typo, a prefix).
pub const WHOLE_NAME: i64 = 30;
pub const NAME_PREFIX: i64 = 25;
pub const SOFT_IN_NAME: i64 = 30;
pub const SOFT_IN_PLACE: i64 = 10;
pub const UNMENTIONED_NAME_WORD: i64 = 4;
/// `Bánh xèo Cô Ba` answers `banh xeo co ba` a little better than `Quán Bánh xèo Cô Ba`.
pub const UNMENTIONED_KIND_WORD: i64 = 1;
pub const MISSED_WORD: i64 = 40;

fn tokens(folded: &str) -> Vec<&str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

fn hit(query: &str, token: &str, near: &[(String, usize)]) -> Option<Hit> {
    if token == query {
        Some(Hit::Exact)
    } else if query.len() >= 2 && token.starts_with(query) {
        Some(Hit::Prefix)
    } else {
        near.iter().find(|(w, _)| w == token).map(|(_, d)| if *d <= 1 { Hit::Fuzzy1 } else { Hit::Fuzzy2 })
    }
}

/// The best hit of a plain word among the `tokens` no other item took yet (one word of a
/// name answers one word of the query), the first of equals.
fn best(query: &str, tokens: &[&str], taken: &[bool], near: &[(String, usize)]) -> Option<(Hit, usize)> {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !taken.get(*i).copied().unwrap_or(false))
        .filter_map(|(i, t)| hit(query, t, near).map(|h| (h, i)))
        .max_by_key(|(h, i)| (*h, std::cmp::Reverse(*i)))
}

fn phrase_at(tokens: &[&str], form: &[String]) -> Option<usize> {
    (0..tokens.len()).find(|&i| tokens.len() - i >= form.len() && tokens[i..].iter().zip(form).all(|(t, f)| t == f))
}

/// Which items spell out one of `areas` (wards and districts, as folded words): those say
/// where, and their hits on a name do not make a place a match (`hai chau` is the district,
/// not `Nhà hàng Hải Vân` on `Phan Châu Trinh`).
pub fn area_items(items: &[Item], areas: &BTreeSet<Vec<String>>) -> Vec<bool> {
    let mut marked = vec![false; items.len()];
    for area in areas.iter().filter(|a| !a.is_empty()) {
        for start in 0..items.len() {
            let run = &items[start..];
            if run.len() >= area.len() && run.iter().zip(area).all(|(it, w)| it.plain() == Some(w.as_str())) {
                marked[start..start + area.len()].iter_mut().for_each(|m| *m = true);
            }
        }
    }
    marked
}

/// How well a place matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    pub points: i64,
    /// Every hard word matched in the name and every word of the name answered exactly:
    /// looser steps of a search would not find a better match than this one. (A match
    /// through a typo does not settle it: `hoong` may be `Hương` or `Hùng`.)
    pub complete: bool,
    /// Every hard word matched in the name (words of a ward or district: in the place).
    pub in_name: bool,
    /// Every hard word matched, in the name or the place.
    pub all_matched: bool,
}

/// The score of one place for a query, or `None` when it is not a match. `where_words`
/// marks the items that name an area (see [`area_items`]).
pub fn score(
    name_folded: &str,
    place_folded: &str,
    items: &[Item],
    where_words: &[bool],
    near: &Near,
) -> Option<Score> {
    let place = Place::new(name_folded, place_folded);
    let mut tally = Tally { covered: vec![0; place.name.len()], ..Tally::default() };
    let where_words = where_words.iter().copied().chain(std::iter::repeat(false));
    for (item, says_where) in items.iter().zip(where_words) {
        tally.hard += usize::from(!item.soft);
        match item.plain().filter(|_| !item.soft) {
            Some(word) => tally.word(word, says_where, &place, near),
            None => tally.phrase(item, &place),
        }
    }
    tally.finish(&place.generic)
}

/// A candidate's words: its name's, which of them only say its kind (`quán`), its place's.
struct Place<'a> {
    name: Vec<&'a str>,
    generic: Vec<bool>,
    place: Vec<&'a str>,
}

impl<'a> Place<'a> {
    fn new(name_folded: &'a str, place_folded: &'a str) -> Place<'a> {
        let name = tokens(name_folded);
        Place { generic: generic_spans(&name), name, place: tokens(place_folded) }
    }
}

/// What a query's items matched of one place so far.
#[derive(Default)]
struct Tally {
    points: i64,
    /// Hard items, and those of them that matched nothing.
    hard: usize,
    missed: usize,
    /// Hard items (other than area words) matched in the name, and in the place only.
    in_name: usize,
    only_in_place: usize,
    /// Per name word: 2 = matched exactly, 1 = loosely (prefix, typo), 0 = not mentioned.
    covered: Vec<u8>,
}

impl Tally {
    fn miss(&mut self) {
        self.points -= MISSED_WORD;
        self.missed += 1;
    }

    /// A plain hard word: the better of its best hit in the name and in the place.
    fn word(&mut self, q: &str, says_where: bool, p: &Place<'_>, near: &Near) {
        // a kind word of the name (`quán`) answers itself and its typos (`qaun`), not other
        // words one edit away (`duan` of the street Lê Duẩn)
        let word = near.known.contains(q);
        let taken: Vec<bool> =
            (0..p.name.len()).map(|i| self.covered[i] > 0 || (p.generic[i] && word && p.name[i] != q)).collect();
        let near = near.corrections.get(q).map(Vec::as_slice).unwrap_or_default();
        // a word of a ward or district names the name only exactly (`Khách sạn Sơn Trà`),
        // else the place
        let on_name = best(q, &p.name, &taken, near).filter(|(h, _)| !says_where || *h == Hit::Exact);
        let on_place = best(q, &p.place, &[], near).and_then(|(h, _)| h.place_points());
        match (on_name, on_place) {
            // the better of the two: `phong` is the ward Hòa Phong more than a typo of Hương
            (Some((h, i)), place) if place.is_none_or(|p| h.name_points() >= p) => {
                self.points += h.name_points();
                self.covered[i] = self.covered[i].max(if h == Hit::Exact { 2 } else { 1 });
                self.in_name += usize::from(!says_where);
            }
            (_, Some(points)) => {
                self.points += points;
                self.only_in_place += usize::from(!says_where);
            }
            (_, None) => self.miss(),
        }
    }

    /// A soft item or a phrase: one of its forms, whole, in the name or else in the place.
    fn phrase(&mut self, item: &Item, p: &Place<'_>) {
        if let Some((form, at)) = item.forms.iter().find_map(|f| phrase_at(&p.name, f).map(|at| (f, at))) {
            self.points += if item.soft { SOFT_IN_NAME * i64::try_from(form.len()).unwrap_or(1) } else { 100 };
            self.covered[at..at + form.len()].iter_mut().for_each(|c| *c = 2);
            self.in_name += usize::from(!item.soft);
        } else if item.forms.iter().any(|f| phrase_at(&p.place, f).is_some()) {
            self.points += if item.soft { SOFT_IN_PLACE } else { 45 };
            self.only_in_place += usize::from(!item.soft);
        } else if !item.soft {
            self.miss();
        }
    }

    /// The score once every item is counted: `None` when nothing named the name or more than
    /// a third of the hard items missed; else the points with what the whole name adds or
    /// costs (unmentioned words, an exact, whole or prefix name).
    fn finish(self, generic: &[bool]) -> Option<Score> {
        let specific: Vec<u8> = self.covered.iter().zip(generic).filter(|(_, g)| !**g).map(|(c, _)| *c).collect();
        let exact_name = !specific.is_empty() && specific.iter().all(|c| *c == 2);
        if (self.in_name == 0 && !exact_name) || self.missed * 3 > self.hard {
            return None;
        }
        let unmentioned = specific.iter().filter(|c| **c == 0).count();
        let unmentioned_kind = self.covered.iter().zip(generic).filter(|(c, g)| **g && **c == 0).count();
        let mut total = self.points
            - UNMENTIONED_NAME_WORD * i64::try_from(unmentioned).unwrap_or(0)
            - UNMENTIONED_KIND_WORD * i64::try_from(unmentioned_kind).unwrap_or(0);
        let whole_name = !specific.is_empty() && specific.iter().all(|c| *c > 0);
        if exact_name {
            total += EXACT_NAME;
        } else if whole_name {
            total += WHOLE_NAME;
        } else if specific.first() == Some(&2) {
            let run = specific.iter().take_while(|c| **c == 2).count();
            if specific[run..].iter().all(|c| *c == 0) {
                total += NAME_PREFIX;
            }
        }
        let in_name = self.missed == 0 && self.only_in_place == 0;
        Some(Score { points: total, complete: exact_name && in_name, in_name, all_matched: self.missed == 0 })
    }
}

/// The matches among candidates, best first: score, then a valid certificate, then name and
/// id (so equal places come in a stable order); as positions in `list`.
pub fn rank(list: &[Summary], items: &[Item], near: &Near, today: NaiveDate) -> Vec<(Score, usize)> {
    let areas: BTreeSet<Vec<String>> = list
        .iter()
        .flat_map(|s| [&s.ward_folded, &s.district_folded])
        .map(|a| tokens(a).into_iter().map(str::to_owned).collect())
        .collect();
    let where_words = area_items(items, &areas);
    let mut scored: Vec<(Score, usize)> = list
        .iter()
        .enumerate()
        .filter_map(|(i, s)| score(&s.name_folded, &s.place_folded, items, &where_words, near).map(|sc| (sc, i)))
        .collect();
    let valid = |i: usize| CertificateStatus::of(list[i].establishment.certificate.as_ref(), today).is_valid();
    scored.sort_by(|&(sa, a), &(sb, b)| {
        sb.points
            .cmp(&sa.points)
            .then_with(|| valid(b).cmp(&valid(a)))
            .then_with(|| list[a].name_folded.cmp(&list[b].name_folded))
            .then_with(|| list[a].establishment.id.cmp(&list[b].establishment.id))
    });
    scored
}

/// How far the best match must lead the next for an SMS to answer it alone: an exact name
/// leads a name that only starts with the query (`Phở Bà Hoa 2`) by more; two places of the
/// same name tie, and the SMS lists them.
pub const DECISIVE: i64 = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phrase::parse;
    use civic::text::fold;

    fn s(name: &str, place: &str, query: &str, near: &[(&str, &[(&str, usize)])]) -> Option<i64> {
        let corrections = near
            .iter()
            .map(|(q, list)| ((*q).to_owned(), list.iter().map(|(w, d)| ((*w).to_owned(), *d)).collect()))
            .collect();
        let near = Near { corrections, known: HashSet::new() };
        let areas = [civic::text::words("Thạch Thang"), civic::text::words("Hải Châu")].into_iter().collect();
        let items = parse(query);
        score(&fold(name), &fold(place), &items, &area_items(&items, &areas), &near).map(|s| s.points)
    }

    const HC: &str = "12 Trần Phú Thạch Thang Hải Châu Đà Nẵng";

    #[test]
    fn exact_name_over_prefix_over_typo() {
        let exact = s("Phở Bà Hoa", HC, "pho ba hoa", &[]).unwrap();
        let kind_word = s("Quán Phở Bà Hoa", HC, "pho ba hoa", &[]).unwrap();
        let prefix = s("Phở Bà Hoa 2", HC, "pho ba hoa", &[]).unwrap();
        let inside = s("Bún và Phở Bà Hoa", HC, "pho ba hoa", &[]).unwrap();
        let typo = s("Phở Bà Hảo", HC, "pho ba hoa", &[("hoa", &[("hao", 1)])]).unwrap();
        assert_eq!(exact, kind_word + UNMENTIONED_KIND_WORD, "quán is a kind word");
        assert!(exact > prefix && prefix > inside && inside > typo, "{exact} {prefix} {inside} {typo}");
        assert!(exact - prefix >= DECISIVE, "an SMS answers the exact name alone");
    }

    #[test]
    fn place_words_count_after_name_words() {
        let here = s("Cơm gà Bà Hoa", HC, "com ga hai chau", &[]).unwrap();
        let elsewhere = score(
            &fold("Cơm gà Bà Hoa"),
            &fold("5 Lê Duẩn Tân Chính Thanh Khê Đà Nẵng"),
            &parse("com ga hai chau"),
            &[],
            &Near::default(),
        )
        .map(|s| s.points);
        assert!(elsewhere.is_none(), "two of four words missing");
        let named = s("Cơm gà A Hải", HC, "com ga hai chau", &[]).unwrap();
        assert!(named > here);
    }

    #[test]
    fn kind_words_answer_their_typos_not_other_words() {
        let items = parse("nem lui ba mua le duan");
        let mut near = Near::default();
        near.corrections.insert("duan".into(), vec![("quan".into(), 1)]);
        let score_of = |name: &str, place: &str, near: &Near| {
            score(&fold(name), &fold(place), &items, &[], near).map(|s| s.points).unwrap()
        };
        let on_the_street = score_of("Nem lụi Bà Mua", "20 Lê Duẩn Hòa Sơn Hòa Vang Đà Nẵng", &near);
        let quan = "Quán Nem lụi Bà Mua";
        let as_typo = score_of(quan, "3 Hồ Nghinh Hòa An Cẩm Lệ Đà Nẵng", &near);
        assert!(as_typo > on_the_street, "read as a typo of quán, duan would win: {as_typo} {on_the_street}");
        near.known.insert("duan".into());
        let elsewhere = score_of(quan, "3 Hồ Nghinh Hòa An Cẩm Lệ Đà Nẵng", &near);
        assert!(on_the_street > elsewhere, "duan is a word (the street), not quán: {on_the_street} {elsewhere}");
    }

    #[test]
    fn what_is_not_a_match() {
        assert_eq!(s("Ốc Hút", HC, "pizza hut", &[]), None, "half the words missing");
        assert_eq!(s("Phở Bà Hoa", HC, "hai chau", &[]), None, "nothing in the name");
        assert_eq!(s("Cơm gà Chú Hải", HC, "hai chau", &[]), None, "only where it is");
        assert!(s("Cơm gà Chú Hải", HC, "com ga hai chau", &[]).is_some());
        assert!(s("Phở Bà Hoa", HC, "pho ba hoa ngon", &[]).is_some(), "one word in four may miss");
        assert!(s("Phở Bà Hoa", HC, "quan pho", &[]).is_some(), "kind words are optional");
    }
}
