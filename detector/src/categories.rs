//! Rekognition's label aliases and categories (its label model 3.0 answers
//! `"Aliases": [{"Name": "Human"}]` and `"Categories": [{"Name": "Person
//! Description"}]` for "Person"), for the labels this server produces: the
//! classifier's ImageNet classes and their WordNet ancestors, the object
//! detector's COCO classes, the face detector's people labels and the
//! canned labels.
//!
//! **Categories.** Each label gets one category: the category of the first
//! entry of [`CATEGORIES`] naming the label itself or, failing that, the
//! first entry (in table order) naming one of its parents (a label's
//! parents are all its ancestors, so "Hunting Dog" finds "Animal"); else
//! [`FALLBACK_CATEGORY`]. The table names Rekognition's categories as its
//! documentation and answers show them ("Animals and Pets", "Vehicles and
//! Automotive", "Person Description", "Technology and Computing", "Kitchen
//! and Dining", "Hobbies and Interests" for a bicycle...); which label is in
//! which is this table's judgement where no answer was at hand. Specific
//! entries come before general ones where both could apply (a bicycle is a
//! vehicle, but a hobby first; a tank is military before it is a vehicle).
//!
//! **Aliases.** [`ALIASES`]: the few Rekognition is documented or seen to
//! give ("Human" for "Person", "Automobile" for "Car", "Bike" for "Bicycle",
//! "Mug" for "Cup", "Cell Phone" for "Mobile Phone", "Apparel" for
//! "Clothing") and two obvious ones ("Sofa", "Television"). The face
//! detector still reports "Human" as a label of its own too (as the 2.0
//! model did, and the stack's tests expect).

/// The category of a label no entry of [`CATEGORIES`] covers.
pub const FALLBACK_CATEGORY: &str = "Everyday Objects";

/// (label, its category), most specific first; see the module's docs.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("Person", "Person Description"),
    ("Human", "Person Description"),
    ("People", "Person Description"),
    ("Crowd", "Person Description"),
    ("Face", "Person Description"),
    ("Mobile Phone", "Technology and Computing"),
    ("Electronics", "Technology and Computing"),
    ("Bicycle", "Hobbies and Interests"),
    ("Teddy Bear", "Toys and Gaming"),
    ("Plaything", "Toys and Gaming"),
    ("Hair Dryer", "Beauty and Personal Care"),
    ("Toothbrush", "Beauty and Personal Care"),
    ("Toiletry", "Beauty and Personal Care"),
    ("Traffic Light", "Transport and Logistics"),
    ("Parking Meter", "Transport and Logistics"),
    ("Stop Sign", "Public Safety"),
    ("Fire Hydrant", "Public Safety"),
    ("Rescue Equipment", "Public Safety"),
    ("Military Vehicle", "Weapons and Military"),
    ("Weapon", "Weapons and Military"),
    ("Armor", "Weapons and Military"),
    ("Shield", "Weapons and Military"),
    ("Instrument of Execution", "Weapons and Military"),
    ("Sheath", "Weapons and Military"),
    ("Holster", "Weapons and Military"),
    ("Animal", "Animals and Pets"),
    ("Pet", "Animals and Pets"),
    ("Mammal", "Animals and Pets"),
    ("Bird", "Animals and Pets"),
    ("Fish", "Animals and Pets"),
    ("Cat", "Animals and Pets"),
    ("Dog", "Animals and Pets"),
    ("Horse", "Animals and Pets"),
    ("Sheep", "Animals and Pets"),
    ("Cow", "Animals and Pets"),
    ("Elephant", "Animals and Pets"),
    ("Bear", "Animals and Pets"),
    ("Zebra", "Animals and Pets"),
    ("Giraffe", "Animals and Pets"),
    ("Food", "Food and Beverage"),
    ("Beverage", "Food and Beverage"),
    ("Liquid", "Food and Beverage"),
    ("Banana", "Food and Beverage"),
    ("Apple", "Food and Beverage"),
    ("Orange", "Food and Beverage"),
    ("Broccoli", "Food and Beverage"),
    ("Carrot", "Food and Beverage"),
    ("Sandwich", "Food and Beverage"),
    ("Hot Dog", "Food and Beverage"),
    ("Pizza", "Food and Beverage"),
    ("Donut", "Food and Beverage"),
    ("Cake", "Food and Beverage"),
    ("Fruit", "Plants and Flowers"),
    ("Seed", "Plants and Flowers"),
    ("Plant", "Plants and Flowers"),
    ("Potted Plant", "Plants and Flowers"),
    ("Plant Pot", "Plants and Flowers"),
    ("Coral Fungus", "Plants and Flowers"),
    ("Agaric", "Plants and Flowers"),
    ("Gyromitra", "Plants and Flowers"),
    ("Stinkhorn Mushroom", "Plants and Flowers"),
    ("Earth Star Fungus", "Plants and Flowers"),
    ("Hen of the Woods Mushroom", "Plants and Flowers"),
    ("Bolete", "Plants and Flowers"),
    ("Natural Elevation", "Nature and Outdoors"),
    ("Cliff", "Nature and Outdoors"),
    ("Shore", "Nature and Outdoors"),
    ("Spring", "Nature and Outdoors"),
    ("Natural Depression", "Nature and Outdoors"),
    ("Car", "Vehicles and Automotive"),
    ("Motorcycle", "Vehicles and Automotive"),
    ("Bus", "Vehicles and Automotive"),
    ("Truck", "Vehicles and Automotive"),
    ("Airplane", "Vehicles and Automotive"),
    ("Train", "Vehicles and Automotive"),
    ("Boat", "Vehicles and Automotive"),
    ("Vehicle", "Vehicles and Automotive"),
    ("Transportation", "Vehicles and Automotive"),
    ("Clothing", "Apparel and Accessories"),
    ("Footwear", "Apparel and Accessories"),
    ("Headdress", "Apparel and Accessories"),
    ("Neckwear", "Apparel and Accessories"),
    ("Handbag", "Apparel and Accessories"),
    ("Backpack", "Apparel and Accessories"),
    ("Bag", "Apparel and Accessories"),
    ("Suitcase", "Apparel and Accessories"),
    ("Wallet", "Apparel and Accessories"),
    ("Umbrella", "Apparel and Accessories"),
    ("Adornment", "Apparel and Accessories"),
    ("Cloth Covering", "Apparel and Accessories"),
    ("Furniture", "Furniture and Furnishings"),
    ("Seat", "Furniture and Furnishings"),
    ("Bench", "Furniture and Furnishings"),
    ("Chair", "Furniture and Furnishings"),
    ("Couch", "Furniture and Furnishings"),
    ("Bed", "Furniture and Furnishings"),
    ("Dining Table", "Furniture and Furnishings"),
    ("Floor Cover", "Furniture and Furnishings"),
    ("Blind", "Home and Indoors"),
    ("Shade", "Home and Indoors"),
    ("Source of Illumination", "Home and Indoors"),
    ("Fan", "Home Appliances"),
    ("Heater", "Home Appliances"),
    ("Radiator", "Home Appliances"),
    ("Microwave", "Home Appliances"),
    ("Oven", "Home Appliances"),
    ("Toaster", "Home Appliances"),
    ("Refrigerator", "Home Appliances"),
    ("Home Appliance", "Home Appliances"),
    ("Appliance", "Home Appliances"),
    ("Sink", "Home and Indoors"),
    ("Toilet", "Home and Indoors"),
    ("Plumbing Fixture", "Home and Indoors"),
    ("Bathtub", "Home and Indoors"),
    ("Hot Tub", "Home and Indoors"),
    ("Padding", "Home and Indoors"),
    ("Cup", "Kitchen and Dining"),
    ("Bowl", "Kitchen and Dining"),
    ("Fork", "Kitchen and Dining"),
    ("Knife", "Kitchen and Dining"),
    ("Spoon", "Kitchen and Dining"),
    ("Wine Glass", "Kitchen and Dining"),
    ("Bottle", "Kitchen and Dining"),
    ("Glass", "Kitchen and Dining"),
    ("Tableware", "Kitchen and Dining"),
    ("Crockery", "Kitchen and Dining"),
    ("Kitchen Utensil", "Kitchen and Dining"),
    ("Cooking Utensil", "Kitchen and Dining"),
    ("Utensil", "Kitchen and Dining"),
    ("Shaker", "Kitchen and Dining"),
    ("Drinking Vessel", "Kitchen and Dining"),
    ("Ware", "Kitchen and Dining"),
    ("Ladle", "Kitchen and Dining"),
    ("Strainer", "Kitchen and Dining"),
    ("Tray", "Kitchen and Dining"),
    ("Drink Pitcher", "Kitchen and Dining"),
    ("Mortar and Pestle", "Kitchen and Dining"),
    ("Measuring Cup", "Kitchen and Dining"),
    ("Computer", "Technology and Computing"),
    ("Laptop", "Technology and Computing"),
    ("TV", "Technology and Computing"),
    ("Keyboard", "Technology and Computing"),
    ("Mouse", "Technology and Computing"),
    ("Remote Control", "Technology and Computing"),
    ("Telephone", "Technology and Computing"),
    ("Peripheral", "Technology and Computing"),
    ("Memory Device", "Technology and Computing"),
    ("Modem", "Technology and Computing"),
    ("Screen", "Technology and Computing"),
    ("Electronic Device", "Technology and Computing"),
    ("Electrical Device", "Technology and Computing"),
    ("Audio System", "Technology and Computing"),
    ("Cassette", "Technology and Computing"),
    ("Cassette Player", "Technology and Computing"),
    ("CD Player", "Technology and Computing"),
    ("Tape Player", "Technology and Computing"),
    ("Communication System", "Technology and Computing"),
    ("Satellite", "Technology and Computing"),
    ("Photographic Equipment", "Technology and Computing"),
    ("Oscilloscope", "Technology and Computing"),
    ("Musical Instrument", "Hobbies and Interests"),
    ("Plectrum", "Hobbies and Interests"),
    ("Ball", "Sports"),
    ("Sports Equipment", "Sports"),
    ("Sports Implement", "Sports"),
    ("Game Equipment", "Sports"),
    ("Ski", "Sports"),
    ("Snowboard", "Sports"),
    ("Skateboard", "Sports"),
    ("Surfboard", "Sports"),
    ("Tennis Racket", "Sports"),
    ("Baseball Bat", "Sports"),
    ("Baseball Glove", "Sports"),
    ("Frisbee", "Sports"),
    ("Kite", "Sports"),
    ("Medical Instrument", "Medical"),
    ("Drug", "Medical"),
    ("Breathing Device", "Medical"),
    ("Crutch", "Medical"),
    ("Neck Brace", "Medical"),
    ("Book", "Text and Documents"),
    ("Paper", "Text and Documents"),
    ("Envelope", "Text and Documents"),
    ("Publication", "Text and Documents"),
    ("Print Media", "Text and Documents"),
    ("Ring Binder", "Offices and Workspaces"),
    ("Writing Implement", "Offices and Workspaces"),
    ("Eraser", "Offices and Workspaces"),
    ("Sharpener", "Offices and Workspaces"),
    ("Photocopier", "Offices and Workspaces"),
    ("Signboard", "Symbols and Flags"),
    ("Sign", "Symbols and Flags"),
    ("Memorial", "Popular Landmarks"),
    ("Altar", "Religion"),
    ("Building", "Buildings and Architecture"),
    ("Building Complex", "Buildings and Architecture"),
    ("Housing", "Buildings and Architecture"),
    ("Tower", "Buildings and Architecture"),
    ("Bridge", "Buildings and Architecture"),
    ("Roof", "Buildings and Architecture"),
    ("Column", "Buildings and Architecture"),
    ("Arch", "Buildings and Architecture"),
    ("Defensive Structure", "Buildings and Architecture"),
    ("Shop", "Buildings and Architecture"),
    ("Marketplace", "Buildings and Architecture"),
    ("Fountain", "Buildings and Architecture"),
    ("Pier", "Buildings and Architecture"),
    ("Patio", "Buildings and Architecture"),
    ("Landing", "Buildings and Architecture"),
    ("Shelter", "Buildings and Architecture"),
    ("Supporting Structure", "Buildings and Architecture"),
    ("Passage", "Buildings and Architecture"),
    ("Barrier", "Buildings and Architecture"),
    ("Institution", "Buildings and Architecture"),
    ("Maze", "Buildings and Architecture"),
    ("Tool", "Tools and Machinery"),
    ("Machine", "Tools and Machinery"),
    ("Lifting Device", "Tools and Machinery"),
    ("Pump", "Tools and Machinery"),
    ("Fastener", "Tools and Machinery"),
    ("Hook", "Tools and Machinery"),
    ("Scissors", "Tools and Machinery"),
    ("Timepiece", "Everyday Objects"),
    ("Measuring Instrument", "Tools and Machinery"),
    ("Scientific Instrument", "Tools and Machinery"),
    ("Optical Instrument", "Tools and Machinery"),
    ("Navigational Instrument", "Tools and Machinery"),
    ("Cleaning Implement", "Home and Indoors"),
    ("Brush", "Home and Indoors"),
    ("Towel", "Home and Indoors"),
    ("Fabric", "Materials"),
    ("Design", "Patterns and Shapes"),
    ("Spiral Or Coil", "Patterns and Shapes"),
    ("Round Shape", "Patterns and Shapes"),
];

/// (label, its aliases).
pub const ALIASES: &[(&str, &[&str])] = &[
    ("Person", &["Human"]),
    ("Car", &["Automobile"]),
    ("Bicycle", &["Bike"]),
    ("Cup", &["Mug"]),
    ("Mobile Phone", &["Cell Phone"]),
    ("Clothing", &["Apparel"]),
    ("Couch", &["Sofa"]),
    ("TV", &["Television"]),
];

/// The aliases of label `name`.
pub fn aliases(name: &str) -> &'static [&'static str] {
    match ALIASES.iter().find(|(label, _)| *label == name) {
        Some((_, aliases)) => aliases,
        None => &[],
    }
}

/// The category of label `name` whose ancestors are `parents`.
pub fn category(name: &str, parents: &[String]) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(label, _)| *label == name)
        .or_else(|| {
            CATEGORIES
                .iter()
                .find(|(label, _)| parents.iter().any(|p| p == label))
        })
        .map_or(FALLBACK_CATEGORY, |(_, category)| *category)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parents(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn labels_get_rekognitions_categories() {
        assert_eq!(category("Person", &[]), "Person Description");
        assert_eq!(
            category("Face", &parents(&["Person"])),
            "Person Description"
        );
        assert_eq!(category("Mobile Phone", &[]), "Technology and Computing");
        assert_eq!(
            category("Car", &parents(&["Transportation", "Vehicle"])),
            "Vehicles and Automotive"
        );
        assert_eq!(
            category("Bus", &parents(&["Public Transport", "Transportation"])),
            "Vehicles and Automotive"
        );
        assert_eq!(category("Cup", &[]), "Kitchen and Dining");
    }

    #[test]
    fn a_label_not_in_the_table_takes_its_first_listed_ancestors_category() {
        let dog = parents(&["Animal", "Canine", "Mammal", "Pet"]);
        assert_eq!(category("German Shepherd Dog", &dog), "Animals and Pets");
        // "Military Vehicle" is listed before "Vehicle".
        let tank = parents(&["Military Vehicle", "Transportation", "Vehicle"]);
        assert_eq!(category("Tank", &tank), "Weapons and Military");
        // The label's own entry wins over its parents'.
        let bike = parents(&["Transportation", "Vehicle"]);
        assert_eq!(category("Bicycle", &bike), "Hobbies and Interests");
        assert_eq!(
            category("Mountain Bike", &parents(&["Bicycle", "Vehicle"])),
            "Hobbies and Interests"
        );
        assert_eq!(category("Rack", &[]), FALLBACK_CATEGORY);
    }

    #[test]
    fn table_entries_are_unique_and_aliases_are_not_labels_of_their_own_entry() {
        let mut names: Vec<&str> = CATEGORIES.iter().map(|(n, _)| *n).collect();
        names.sort();
        let all = names.len();
        names.dedup();
        assert_eq!(names.len(), all, "a label listed twice");
        assert_eq!(aliases("Person"), ["Human"]);
        assert!(aliases("Dog").is_empty());
        for (label, list) in ALIASES {
            assert!(!list.contains(label));
        }
    }
}
