//! From ImageNet classes to Rekognition-like labels.
//!
//! Rekognition answers a German Shepherd photo with "German Shepherd", "Dog",
//! "Canine", "Mammal", "Animal" and "Pet": the specific thing and the more
//! general things it is. An ImageNet classifier only gives the specific
//! thing, but every ImageNet class is a WordNet 3.0 noun synset (the class ID
//! `n02106662` is the synset at offset 02106662 of `data.noun`), and WordNet's
//! hypernym links give the general things. The object detector's COCO
//! classes ([`crate::objects`]) are given synsets, and get their labels the
//! same way.
//!
//! **Which ancestors become labels.** WordNet's chains run up to very
//! abstract or technical nodes ("whole", "instrumentality", "chordate").
//! An ancestor is dropped if
//! 1. it is in WordNet's top layer, the `noun.Tops` lexicographer file
//!    ("entity", "object", "whole", "artifact", "organism", "matter"...),
//!    unless it is an everyday word kept by [`KEEP_TOPS`] ("animal",
//!    "person", "plant", "food"); or
//! 2. it is listed in [`DROPPED`]: abstract groupings ("device",
//!    "container", "covering") and Linnaean ranks nobody would search for
//!    ("placental", "chordate", "vertebrate").
//!
//! [`RENAMED`] gives a few kept synsets Rekognition's word ("domestic
//! animal" becomes "Pet", "conveyance" "Transportation"). Names are the
//! synset's first word (or, for a class, its curated ImageNet name), in
//! Title Case.
//!
//! **Confidence.** A label's confidence is the probability that the image
//! shows *something under it*: the sum of the class probabilities of every
//! class that carries the label. "Dog" is as sure as all dog breeds
//! together, so a photo the model splits between two breeds is still a
//! confident "Dog".

use std::collections::{BTreeSet, HashMap};

/// `noun.Tops` synsets that are still everyday words.
pub const KEEP_TOPS: &[&str] = &["animal", "person", "plant", "food"];

/// Abstract or technical synsets never used as labels (by their first word).
pub const DROPPED: &[&str] = &[
    // abstract groupings of artifacts
    "instrumentality",
    "device",
    "container",
    "covering",
    "commodity",
    "consumer_goods",
    "structure",
    "implement",
    "equipment",
    "system",
    "article",
    "material",
    "protective_covering",
    "creation",
    "decoration",
    "surface",
    "area",
    "way",
    "obstruction",
    "establishment",
    "place_of_business",
    "mercantile_establishment",
    "mechanism",
    "mechanical_device",
    "restraint",
    "durables",
    "furnishing",
    "electronic_equipment",
    "support",
    "instrument",
    "part",
    "fluid",
    // Linnaean ranks and technical groupings of organisms
    "placental",
    "chordate",
    "vertebrate",
    "invertebrate",
    "carnivore",
    "arthropod",
    "diapsid",
    "anapsid",
    "amphibian",
    "aquatic_vertebrate",
    "oscine",
    "passerine",
    "gallinaceous_bird",
    "wading_bird",
    "aquatic_bird",
    "ungulate",
    "even-toed_ungulate",
    "odd-toed_ungulate",
    "ruminant",
    "bovid",
    "primate",
    "anthropoid",
    "anthropoid_ape",
    "great_ape",
    "lesser_ape",
    "Old_World_monkey",
    "New_World_monkey",
    "viverrine",
    "procyonid",
    "musteline_mammal",
    "rodent",
    "lagomorph",
    "leporid",
    "eutherian",
    "metatherian",
    "prototherian",
    "marsupial",
    "proboscidean",
    "pachyderm",
    "mollusk",
    "gastropod",
    "crustacean",
    "decapod_crustacean",
    "coelenterate",
    "anthozoan",
    "echinoderm",
    "worm",
    "teleost_fish",
    "bony_fish",
    "spiny-finned_fish",
    "soft-finned_fish",
    "elasmobranch",
    "cartilaginous_fish",
    "cyprinid",
    "salmonid",
    "ganoid",
    "larva",
    "saurian",
    "lepidopterous_insect",
    "colubrid_snake",
    "solid",
    "nutriment",
    "young_mammal",
    "work_animal",
    "predator",
    "game",
    "fungus",
    "basidiomycete",
    "agaric",
    "vascular_plant",
    "spermatophyte",
    "angiosperm",
    "gymnosperm",
    "woody_plant",
    "herb",
    "reproductive_structure",
    "plant_part",
    "plant_organ",
    "natural_object",
    "geological_formation",
    "elevation",
];

/// Kept synsets that Rekognition calls something else (first word, label).
pub const RENAMED: &[(&str, &str)] = &[
    ("domestic_animal", "Pet"),
    ("conveyance", "Transportation"),
    ("person", "Person"),
    ("motor_vehicle", "Vehicle"),
    ("wheeled_vehicle", "Vehicle"),
    ("self-propelled_vehicle", "Vehicle"),
    ("clothing", "Clothing"),
    ("garment", "Clothing"),
    ("beverage", "Beverage"),
    ("feline", "Cat"),
];

/// One noun synset of WordNet's `data.noun`.
#[derive(Debug, Clone, PartialEq)]
pub struct Synset {
    /// The lexicographer file number; 3 is `noun.Tops`.
    pub lex_file: u8,
    /// Its words, with `_` for spaces, most common first.
    pub words: Vec<String>,
    /// Offsets of its hypernyms (`@`) and instance hypernyms (`@i`).
    pub hypernyms: Vec<u32>,
}

const NOUN_TOPS: u8 = 3;

/// WordNet's noun synsets, by offset.
#[derive(Debug, Default)]
pub struct WordNet {
    synsets: HashMap<u32, Synset>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TaxonomyError {
    #[error("data.noun line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("ImageNet class {index} ({wnid}) is not a WordNet 3.0 noun synset")]
    UnknownClass { index: usize, wnid: String },
    #[error("classes file line {line}: expected INDEX<TAB>WNID<TAB>NAME")]
    BadClassLine { line: usize },
}

impl WordNet {
    /// Parses WordNet 3.0's `data.noun` (license header lines start with
    /// two spaces and are skipped).
    pub fn parse(text: &str) -> Result<WordNet, TaxonomyError> {
        let mut synsets = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("  ") || line.trim().is_empty() {
                continue;
            }
            let malformed = |reason| TaxonomyError::Malformed {
                line: n + 1,
                reason,
            };
            let data = line.split(" | ").next().unwrap_or(line);
            let mut f = data.split_ascii_whitespace();
            let mut next = |what| f.next().ok_or_else(|| malformed(what));
            let offset: u32 = next("no offset")?
                .parse()
                .map_err(|_| malformed("bad offset"))?;
            let lex_file: u8 = next("no lex file")?
                .parse()
                .map_err(|_| malformed("bad lex file"))?;
            next("no type")?;
            let count = usize::from_str_radix(next("no word count")?, 16)
                .map_err(|_| malformed("bad word count"))?;
            let mut words = Vec::with_capacity(count);
            for _ in 0..count {
                words.push(next("missing word")?.to_string());
                next("missing lex id")?;
            }
            let pointers: usize = next("no pointer count")?
                .parse()
                .map_err(|_| malformed("bad pointer count"))?;
            let mut hypernyms = Vec::new();
            for _ in 0..pointers {
                let symbol = next("missing pointer")?;
                let target = next("missing pointer offset")?;
                let pos = next("missing pointer pos")?;
                next("missing pointer source/target")?;
                if matches!(symbol, "@" | "@i") && pos == "n" {
                    hypernyms.push(target.parse().map_err(|_| malformed("bad pointer"))?);
                }
            }
            synsets.insert(
                offset,
                Synset {
                    lex_file,
                    words,
                    hypernyms,
                },
            );
        }
        Ok(WordNet { synsets })
    }

    pub fn get(&self, offset: u32) -> Option<&Synset> {
        self.synsets.get(&offset)
    }

    /// Every ancestor of `offset`, nearest first, each once.
    pub fn ancestors(&self, offset: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut frontier = vec![offset];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for o in frontier {
                for &h in self.get(o).map(|s| s.hypernyms.as_slice()).unwrap_or(&[]) {
                    if !out.contains(&h) {
                        out.push(h);
                        next.push(h);
                    }
                }
            }
            frontier = next;
        }
        out
    }
}

/// A classifier's class: its WordNet ID and its curated English name
/// (ImageNet-1k's, or the object detector's COCO classes).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageNetClass {
    pub wnid: String,
    pub name: String,
}

/// Parses the classes file the setup writes: `INDEX<TAB>WNID<TAB>NAME` lines
/// in index order.
pub fn parse_classes(text: &str) -> Result<Vec<ImageNetClass>, TaxonomyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            let mut f = l.split('\t');
            match (f.next().map(str::parse::<usize>), f.next(), f.next()) {
                (Some(Ok(i)), Some(wnid), Some(name)) if i == n && wnid.starts_with('n') => {
                    Ok(ImageNetClass {
                        wnid: wnid.to_string(),
                        name: name.to_string(),
                    })
                }
                _ => Err(TaxonomyError::BadClassLine { line: n + 1 }),
            }
        })
        .collect()
}

/// `german_shepherd` or `German shepherd` → `German Shepherd`; short
/// joining words stay lower case after the first (`Coat of Arms`).
pub fn title_case(words: &str) -> String {
    const SMALL: &[&str] = &["of", "and", "the", "in", "on", "for", "a", "an", "to"];
    words
        .split(['_', ' '])
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, w)| {
            if i > 0 && SMALL.contains(&w) {
                return w.to_string();
            }
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A class's label name: its curated name without a parenthesised note
/// ("kite (bird of prey)" → "Kite"); a descriptive phrase ("a cat having a
/// striped coat") or list falls back to the synset's first word.
fn class_label(class: &ImageNetClass, synset: &Synset) -> String {
    let name = class.name.split(" (").next().unwrap_or(&class.name).trim();
    let descriptive = name.starts_with("a ") || name.starts_with("an ") || name.contains(',');
    if name.is_empty() || descriptive {
        title_case(&synset.words[0])
    } else {
        title_case(name)
    }
}

/// The label an ancestor synset becomes, if any.
fn ancestor_label(synset: &Synset) -> Option<String> {
    let first = synset.words.first()?.as_str();
    if synset.lex_file == NOUN_TOPS && !KEEP_TOPS.contains(&first) {
        return None;
    }
    if DROPPED.contains(&first) {
        return None;
    }
    Some(match RENAMED.iter().find(|(w, _)| *w == first) {
        Some((_, label)) => label.to_string(),
        None => title_case(first),
    })
}

/// A label the classifier can produce.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelDef {
    pub name: String,
    /// Indices (into [`Taxonomy::labels`]) of the labels above this one.
    pub parents: Vec<usize>,
}

/// The labels of a classifier's classes (ImageNet's 1000, or the object
/// detector's 80), computed once at start-up.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub labels: Vec<LabelDef>,
    /// For each class, the labels it carries (its own and its ancestors').
    pub class_labels: Vec<Vec<usize>>,
}

/// A label of one image, with Rekognition's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredLabel {
    pub name: String,
    /// 0-100.
    pub confidence: f32,
    pub parents: Vec<String>,
    /// Where in the image, for labels a detector found (faces).
    pub instances: Vec<Instance>,
}

/// One occurrence of a label: a box as fractions of the image's size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instance {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
    /// 0-100.
    pub confidence: f32,
}

impl Taxonomy {
    pub fn build(wordnet: &WordNet, classes: &[ImageNetClass]) -> Result<Taxonomy, TaxonomyError> {
        let mut labels: Vec<LabelDef> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut class_labels = Vec::with_capacity(classes.len());
        for (index, class) in classes.iter().enumerate() {
            let unknown = || TaxonomyError::UnknownClass {
                index,
                wnid: class.wnid.clone(),
            };
            let offset: u32 = class.wnid[1..].parse().map_err(|_| unknown())?;
            let synset = wordnet.get(offset).ok_or_else(unknown)?;
            // (label, the kept labels above it), the class first, then
            // each kept ancestor, nearest first.
            let kept_above = |o: u32| -> Vec<String> {
                wordnet
                    .ancestors(o)
                    .into_iter()
                    .filter_map(|a| wordnet.get(a).and_then(ancestor_label))
                    .collect()
            };
            let mut chain = vec![(class_label(class, synset), kept_above(offset))];
            for a in wordnet.ancestors(offset) {
                if let Some(name) = wordnet.get(a).and_then(ancestor_label) {
                    chain.push((name, kept_above(a)));
                }
            }
            let mut id_of = |name: &String| {
                *by_name.entry(name.clone()).or_insert_with(|| {
                    labels.push(LabelDef {
                        name: name.clone(),
                        parents: Vec::new(),
                    });
                    labels.len() - 1
                })
            };
            let mut ids: Vec<usize> = Vec::new();
            let mut parents: Vec<(usize, Vec<usize>)> = Vec::new();
            for (name, above) in &chain {
                let id = id_of(name);
                if !ids.contains(&id) {
                    ids.push(id);
                }
                parents.push((id, above.iter().map(&mut id_of).collect()));
            }
            // A label's parents are the labels of its synsets' ancestors.
            for (id, above) in parents {
                for p in above {
                    if p != id && !labels[id].parents.contains(&p) {
                        labels[id].parents.push(p);
                    }
                }
            }
            class_labels.push(ids);
        }
        Ok(Taxonomy {
            labels,
            class_labels,
        })
    }

    /// Labels for one image's class probabilities (which sum to 1), most
    /// confident first, with at least `min_confidence` (0-100).
    pub fn score(&self, probabilities: &[f32], min_confidence: f32) -> Vec<ScoredLabel> {
        let mut mass = vec![0f32; self.labels.len()];
        for (class, &p) in probabilities.iter().enumerate() {
            let Some(ids) = self.class_labels.get(class) else {
                continue;
            };
            for &id in ids {
                mass[id] += p;
            }
        }
        let mut scored: Vec<(usize, f32)> = mass
            .iter()
            .enumerate()
            .map(|(id, &p)| (id, (p * 100.0).clamp(0.0, 100.0)))
            .filter(|&(_, c)| c >= min_confidence && c > 0.0)
            .collect();
        scored.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.labels[a.0].name.cmp(&self.labels[b.0].name))
        });
        scored
            .into_iter()
            .map(|(id, confidence)| self.label(id, confidence))
            .collect()
    }

    /// Label `id` with a confidence, its parents sorted by name.
    pub fn label(&self, id: usize, confidence: f32) -> ScoredLabel {
        let parents: BTreeSet<&str> = self.labels[id]
            .parents
            .iter()
            .map(|&p| self.labels[p].name.as_str())
            .collect();
        ScoredLabel {
            name: self.labels[id].name.clone(),
            confidence,
            parents: parents.into_iter().map(str::to_string).collect(),
            instances: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real `data.noun` lines (WordNet 3.0), trimmed to the chains of two
    /// dog breeds and a tabby cat.
    const DATA_NOUN: &str = "  1 This software and database is being provided to you, the LICENSEE, by  
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04431553 n 0000 | that which is perceived
00001930 03 n 01 physical_entity 0 002 @ 00001740 n 0000 ~ 00002452 n 0000 | an entity that has physical existence
00002684 03 n 02 object 0 physical_object 0 001 @ 00001930 n 0000 | a tangible and visible entity
00003553 03 n 02 whole 0 unit 0 001 @ 00002684 n 0000 | an assemblage of parts
00004258 03 n 02 living_thing 0 animate_thing 0 001 @ 00003553 n 0000 | a living (or once living) entity
00004475 03 n 02 organism 0 being 0 001 @ 00004258 n 0000 | a living thing
00015388 03 n 04 animal 0 animate_being 0 beast 0 brute 0 001 @ 00004475 n 0000 | a living organism
01466257 05 n 01 chordate 0 001 @ 00015388 n 0000 | any animal of the phylum Chordata
01471682 05 n 02 vertebrate 0 craniate 0 001 @ 01466257 n 0000 | animals having a bony or cartilaginous skeleton
01861778 05 n 02 mammal 0 mammalian 0 001 @ 01471682 n 0000 | any warm-blooded vertebrate
01886756 05 n 02 placental 0 eutherian 0 001 @ 01861778 n 0000 | mammals having a placenta
02075296 05 n 01 carnivore 0 001 @ 01886756 n 0000 | a terrestrial or aquatic flesh-eating mammal
02083346 05 n 02 canine 0 canid 0 001 @ 02075296 n 0000 | any of various fissiped mammals
02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02083346 n 0000 @ 01317541 n 0000 | a member of the genus Canis
01317541 05 n 01 domestic_animal 0 001 @ 00015388 n 0000 | any of various animals that have been domesticated
02103406 05 n 01 working_dog 0 001 @ 02084071 n 0000 | any of several breeds of usually large powerful dogs
02104523 05 n 02 shepherd_dog 0 sheepdog 0 001 @ 02103406 n 0000 | any of various usually long-haired breeds
02106662 05 n 04 German_shepherd 0 German_shepherd_dog 0 German_police_dog 0 alsatian 0 001 @ 02104523 n 0000 | breed of large shepherd dogs
02106030 05 n 01 collie 0 001 @ 02104523 n 0000 | a silky-coated sheepdog
02120997 05 n 02 feline 0 felid 0 001 @ 02075296 n 0000 | any of various lithe-bodied roundheaded fissiped mammals
02121620 05 n 02 cat 0 true_cat 0 001 @ 02120997 n 0000 | feline mammal usually having thick soft fur
02121808 05 n 02 domestic_cat 0 house_cat 0 002 @ 02121620 n 0000 @ 01317541 n 0000 | any domesticated member of the genus Felis
02123045 05 n 02 tabby 0 tabby_cat 0 001 @ 02121808 n 0000 | a cat with a grey or tawny coat
";

    fn classes() -> Vec<ImageNetClass> {
        parse_classes(
            "0\tn02106662\tGerman Shepherd Dog\n1\tn02106030\tcollie\n2\tn02123045\ta cat having a striped coat\n",
        )
        .unwrap()
    }

    fn taxonomy() -> Taxonomy {
        Taxonomy::build(&WordNet::parse(DATA_NOUN).unwrap(), &classes()).unwrap()
    }

    fn names(t: &Taxonomy, class: usize) -> Vec<&str> {
        t.class_labels[class]
            .iter()
            .map(|&i| t.labels[i].name.as_str())
            .collect()
    }

    #[test]
    fn a_breed_gets_its_everyday_ancestors_and_not_the_abstract_ones() {
        let t = taxonomy();
        assert_eq!(
            names(&t, 0),
            [
                "German Shepherd Dog",
                "Shepherd Dog",
                "Working Dog",
                "Dog",
                "Canine",
                "Pet",
                "Animal",
                "Mammal"
            ]
        );
    }

    #[test]
    fn descriptive_class_names_fall_back_to_the_synset_word() {
        let t = taxonomy();
        assert_eq!(names(&t, 2)[0], "Tabby");
        assert!(names(&t, 2).contains(&"Cat"));
        // "feline" is renamed to "Cat", which "cat" already is: one label.
        assert_eq!(names(&t, 2).iter().filter(|n| **n == "Cat").count(), 1);
    }

    #[test]
    fn ancestors_collect_the_probability_of_every_class_below_them() {
        let t = taxonomy();
        let labels = t.score(&[0.40, 0.35, 0.25], 30.0);
        let got: Vec<(&str, u32)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.confidence.round() as u32))
            .collect();
        assert_eq!(
            got,
            [
                ("Animal", 100),
                ("Mammal", 100),
                ("Pet", 100),
                ("Canine", 75),
                ("Dog", 75),
                ("Shepherd Dog", 75),
                ("Working Dog", 75),
                ("German Shepherd Dog", 40),
                ("Collie", 35),
            ]
        );
        let parents = |name: &str| {
            labels
                .iter()
                .find(|l| l.name == name)
                .unwrap()
                .parents
                .clone()
        };
        assert_eq!(parents("Dog"), ["Animal", "Canine", "Mammal", "Pet"]);
        // Parents are ancestors, never siblings or descendants, whatever
        // order the hierarchy's branches are walked in.
        assert_eq!(parents("Mammal"), ["Animal"]);
        assert_eq!(parents("Pet"), ["Animal"]);
        assert!(parents("Animal").is_empty());
        assert_eq!(
            parents("German Shepherd Dog"),
            [
                "Animal",
                "Canine",
                "Dog",
                "Mammal",
                "Pet",
                "Shepherd Dog",
                "Working Dog"
            ]
        );
    }

    #[test]
    fn min_confidence_filters_and_zero_is_never_reported() {
        let t = taxonomy();
        assert!(t.score(&[0.0, 0.0, 0.0], 0.0).is_empty());
        assert!(t.score(&[0.5, 0.3, 0.2], 100.1).is_empty());
        assert_eq!(t.score(&[1.0, 0.0, 0.0], 99.0).len(), 8);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert_eq!(
            WordNet::parse("00001740 03 n zz entity").unwrap_err(),
            TaxonomyError::Malformed {
                line: 1,
                reason: "bad word count"
            }
        );
        assert_eq!(
            parse_classes("0\tn1\tx\n5\tn2\ty\n").unwrap_err(),
            TaxonomyError::BadClassLine { line: 2 }
        );
        let wn = WordNet::parse(DATA_NOUN).unwrap();
        let missing = parse_classes("0\tn09999999\tghost\n").unwrap();
        assert!(matches!(
            Taxonomy::build(&wn, &missing),
            Err(TaxonomyError::UnknownClass { index: 0, .. })
        ));
    }

    #[test]
    fn title_case_handles_underscores_and_spaces() {
        assert_eq!(title_case("German_shepherd"), "German Shepherd");
        assert_eq!(title_case("ice cream"), "Ice Cream");
        assert_eq!(
            title_case("self-propelled_vehicle"),
            "Self-propelled Vehicle"
        );
    }
}
