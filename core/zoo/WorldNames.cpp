#include "zoo/WorldNames.h"

namespace nugget::zoo {

// The lists below are part of the world's definition: changing, adding or reordering an
// entry changes every world generated from a given seed.

// Capitalised, no internal capitals: no first name ends another one.
const std::vector<std::string> &firstNames()
{
    static const std::vector<std::string> values = {
        "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
        "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
        "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
        "Mark", "Margaret", "Donald", "Sandra", "Steven", "Ashley", "Andrew", "Kimberly",
        "Joshua", "Emily", "Kenneth", "Donna", "Kevin", "Michelle", "Brian", "Carol", "George",
        "Amanda", "Timothy", "Melissa", "Ronald", "Deborah", "Jason", "Stephanie", "Edward",
        "Rebecca", "Jeffrey", "Laura", "Ryan", "Sharon", "Jacob", "Cynthia", "Gary",
        "Kathleen", "Nicholas", "Amy", "Eric", "Angela", "Jonathan", "Shirley", "Stephen",
        "Anna", "Larry", "Brenda", "Justin", "Pamela", "Scott", "Emma", "Brandon", "Nicole",
        "Benjamin", "Helen", "Samuel", "Samantha", "Gregory", "Katherine", "Alexander",
        "Christine", "Frank", "Debra", "Patrick", "Rachel", "Raymond", "Carolyn", "Jack",
        "Janet", "Dennis", "Catherine", "Jerry", "Maria", "Tyler", "Heather", "Aaron", "Diane",
        "Jose", "Ruth", "Adam", "Julie", "Nathan", "Olivia", "Henry", "Joyce", "Douglas",
        "Virginia", "Zachary", "Victoria", "Peter", "Kelly", "Kyle", "Lauren", "Ethan",
        "Christina", "Walter", "Joan", "Noah", "Evelyn", "Jeremy", "Judith", "Christian",
        "Megan", "Keith", "Andrea", "Roger", "Cheryl", "Terry", "Hannah", "Gerald",
        "Jacqueline", "Harold", "Martha", "Sean", "Gloria", "Austin", "Teresa", "Anya",
        "Mateo", "Sofia", "Hiroshi", "Yuki", "Aiko", "Kenji", "Mei", "Wei", "Priya", "Arjun",
        "Ravi", "Ananya", "Vikram", "Deepa", "Fatima", "Omar", "Layla", "Yusuf", "Amira",
        "Tariq", "Zainab", "Kwame", "Amara", "Chidi", "Nia", "Kofi", "Ayodele", "Olga",
        "Dmitri", "Ivan", "Svetlana", "Nikolai", "Katya", "Pavel", "Lars", "Ingrid", "Soren",
        "Freya", "Astrid", "Bjorn", "Elin", "Henrik", "Sven", "Giulia", "Marco", "Luca",
        "Chiara", "Matteo", "Francesca", "Pierre", "Camille", "Amelie", "Etienne", "Margaux",
        "Hugo", "Ines", "Diego", "Carmen", "Pablo", "Lucia", "Javier", "Elena", "Alejandro",
        "Valentina", "Rafael", "Ximena", "Thiago", "Beatriz", "Joao", "Leilani", "Kai",
        "Keanu", "Malia", "Tenzin", "Dawa", "Jiho", "Seojun", "Haruto", "Sakura", "Daichi",
        "Linh", "Minh", "Thao", "Bao", "Siddharth", "Kavya", "Rohan", "Nadia", "Samir",
        "Leila", "Dariush", "Soraya", "Emeka", "Ngozi", "Zola", "Thandiwe", "Sipho", "Ayesha",
        "Hamza", "Idris", "Selin", "Emre", "Deniz", "Aylin", "Mehmet", "Zeynep", "Noor",
        "Rania", "Karim", "Malik", "Ibrahim", "Yasmin", "Hassan", "Mariam", "Bilal", "Salma",
        "Khalid", "Huda", "Ahmed", "Chen", "Jun", "Xiu", "Lan", "Hua", "Ming", "Tao", "Ying",
        "Bo", "Jia", "Sora", "Akira", "Hana", "Takumi", "Riku", "Emi", "Kaito", "Mio", "Shun",
        "Nanami", "Aleksander", "Zofia", "Kasia", "Tomasz", "Marek", "Agnieszka", "Jakub",
        "Ewa", "Milan", "Petra", "Jana", "Lukas", "Tereza", "Ondrej", "Bogdan", "Irina",
        "Vasile", "Ioana", "Andrei", "Mihai", "Siobhan", "Ciaran", "Niamh", "Eoin", "Aoife",
        "Declan", "Saoirse", "Padraig", "Fiona", "Callum", "Isla", "Angus", "Morag", "Rhys",
        "Cerys", "Dylan", "Gwen", "Bryn", "Eira", "Tomos", "Ezra", "Miriam", "Eli", "Talia",
        "Avi", "Noa", "Yael", "Ari", "Shira", "Gideon", "Kalani", "Ikaika", "Moana", "Nalu",
        "Tane", "Aroha", "Wiremu", "Mere", "Hemi", "Anahera"
    };
    return values;
}

// Middle names.
const std::vector<std::string> &middleNames()
{
    static const std::vector<std::string> values = {
        "Briar", "Rose", "Lee", "James", "Marie", "Jade", "Quinn", "Sage", "Reed", "Blake",
        "Rowan", "Ellis", "Wren", "Jude", "Grey", "Lane", "Dale", "Jay", "Ray", "Kay", "Lynn",
        "Anne", "Jean", "Paul", "Mae", "Beth", "Grace", "Hope", "Joy", "Faith", "June", "Skye",
        "Brooke", "Dean", "Cole", "Drew", "Finn", "Hart", "Keane", "Miles", "Noel", "Pierce",
        "Rhett", "Shane", "Tate", "Troy", "Vaughn", "Wade", "Wynn", "Alden", "Arlo", "Bennett",
        "Cyrus", "Dorian", "Emory", "Felix", "Gray", "Harlan", "Ivo", "Jasper", "Knox",
        "Linus", "Milo", "Nash", "Orion", "Pascal", "Quincy", "Rafferty", "Silas", "Thorne",
        "Ulric", "Vance", "Wilder", "Xavier", "Yale", "Zane", "Amos", "Bram", "Cassius",
        "Dashiell", "Everett", "Fletcher", "Gideon", "Hollis", "Ignatius", "Jerome", "Kasimir",
        "Leander", "Magnus", "Nestor", "Oberon", "Percival", "Rupert", "Sterling", "Tobias",
        "Urban", "Valentin", "Weston", "Zephyr", "Aurelia", "Beatrix", "Celeste", "Delphine",
        "Esme", "Florence", "Genevieve", "Hazel", "Imogen", "Juniper", "Kestrel", "Lilith",
        "Marguerite", "Nerys", "Ophelia", "Primrose", "Rosalind", "Seraphina", "Temperance",
        "Undine", "Verity", "Winifred", "Yvaine", "Zinnia", "Amaryllis", "Blythe", "Coral",
        "Dove", "Elowen", "Fern", "Galen", "Haven", "Iris", "Jolie", "Juno", "Lark", "Meadow",
        "Nova", "Opal", "Pearl", "Raine", "Sable", "Tamsin", "Vesper", "Willow", "Yara",
        "Akio", "Haru", "Ren", "Sen", "Tenzin", "Chandra", "Devi", "Kiran", "Lakshmi", "Rani",
        "Anand", "Dev", "Arun", "Suresh"
    };
    return values;
}

// No last name is a prefix of another one, so a full name never occurs inside
// another full name.
const std::vector<std::string> &lastNames()
{
    static const std::vector<std::string> values = {
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Thompson", "White", "Harris", "Sanchez",
        "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
        "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
        "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips",
        "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart",
        "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan",
        "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Cox", "Ward",
        "Richardson", "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray",
        "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel",
        "Myers", "Long", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
        "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
        "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton",
        "Graham", "Reynolds", "Griffin", "Forger", "Briarwood", "Ashcombe", "Thistlewood",
        "Quillfeather", "Marrowby", "Dunmore", "Penhallow", "Caskwell", "Fenwright",
        "Holloway", "Kestrelford", "Larkspur", "Mossgrove", "Nettlefield", "Oakhurst",
        "Pembrook", "Quarrington", "Ravensdale", "Stonebridge", "Tanaka", "Suzuki",
        "Takahashi", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Saito",
        "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu", "Yamada", "Sasaki", "Yamaguchi",
        "Mori", "Abe", "Ikeda", "Wang", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao",
        "Zhou", "Xu", "Sun", "Zhu", "Guo", "Gao", "Luo", "Zheng", "Liang", "Sharma", "Verma",
        "Gupta", "Singh", "Kumar", "Reddy", "Iyer", "Nair", "Menon", "Chatterjee", "Banerjee",
        "Mukherjee", "Desai", "Mehta", "Joshi", "Kapoor", "Malhotra", "Bhatt", "Rao", "Pillai",
        "Okafor", "Adeyemi", "Okonkwo", "Mensah", "Boateng", "Owusu", "Diallo", "Toure",
        "Keita", "Mbeki", "Ndlovu", "Dlamini", "Kamau", "Otieno", "Wanjiru", "Abubakar",
        "Haile", "Tesfaye", "Bekele", "Girma", "Ivanov", "Petrov", "Sokolov", "Volkov",
        "Kuznetsov", "Popov", "Morozov", "Novak", "Kowalski", "Nowak", "Wisniewski", "Dvorak",
        "Horvat", "Kovacs", "Nagy", "Szabo", "Popescu", "Ionescu", "Georgiou", "Papadopoulos",
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
        "Marino", "Greco", "Dubois", "Lefebvre", "Moreau", "Laurent", "Girard", "Bonnet",
        "Fontaine", "Rousseau", "Mercier", "Blanc", "Muller", "Schneider", "Fischer", "Weber",
        "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Larsen", "Hansen",
        "Nielsen", "Jensen", "Lindqvist", "Johansson", "Eriksson", "Berglund", "Haugen",
        "Virtanen", "Connolly", "Gallagher", "Kavanagh", "Brennan", "Doyle", "Fitzgerald",
        "Quinlan", "Donnelly", "Brady", "Whelan", "Haddad", "Khoury", "Nasser", "Mansour",
        "Aziz", "Rahman", "Hosseini", "Karimi", "Demir", "Yilmaz", "Kahale", "Makoa", "Ngata",
        "Parata", "Tamihana", "Kealoha", "Alapai", "Nakoa", "Tupou", "Fifita", "Silva",
        "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Carvalho", "Almeida", "Ferreira",
        "Barbosa", "Whitfield", "Ashworth", "Pendleton", "Calloway", "Everhart", "Sorensen",
        "Lundgren"
    };
    return values;
}

// "City, ST".
const std::vector<std::string> &cities()
{
    static const std::vector<std::string> values = {
        "Princeton, NJ", "Newark, NJ", "Trenton, NJ", "Hoboken, NJ", "Camden, NJ",
        "Menlo Park, CA", "Palo Alto, CA", "San Francisco, CA", "Los Angeles, CA",
        "San Diego, CA", "Sacramento, CA", "Oakland, CA", "Fresno, CA", "Berkeley, CA",
        "Pasadena, CA", "Santa Barbara, CA", "Long Beach, CA", "Irvine, CA",
        "Mountain View, CA", "San Jose, CA", "Bakersfield, CA", "Riverside, CA",
        "Santa Cruz, CA", "Eureka, CA", "Seattle, WA", "Tacoma, WA", "Spokane, WA",
        "Olympia, WA", "Bellingham, WA", "Redmond, WA", "Portland, OR", "Eugene, OR",
        "Salem, OR", "Bend, OR", "Boise, ID", "Pocatello, ID", "Missoula, MT", "Billings, MT",
        "Bozeman, MT", "Cheyenne, WY", "Casper, WY", "Denver, CO", "Boulder, CO",
        "Colorado Springs, CO", "Fort Collins, CO", "Aspen, CO", "Salt Lake City, UT",
        "Provo, UT", "Ogden, UT", "Phoenix, AZ", "Tucson, AZ", "Flagstaff, AZ", "Tempe, AZ",
        "Las Vegas, NV", "Reno, NV", "Albuquerque, NM", "Santa Fe, NM", "Las Cruces, NM",
        "Austin, TX", "Houston, TX", "Dallas, TX", "San Antonio, TX", "El Paso, TX",
        "Fort Worth, TX", "Lubbock, TX", "Galveston, TX", "Amarillo, TX", "Waco, TX",
        "Oklahoma City, OK", "Tulsa, OK", "Norman, OK", "Wichita, KS", "Topeka, KS",
        "Lawrence, KS", "Omaha, NE", "Lincoln, NE", "Fargo, ND", "Bismarck, ND",
        "Sioux Falls, SD", "Rapid City, SD", "Minneapolis, MN", "Saint Paul, MN", "Duluth, MN",
        "Rochester, MN", "Des Moines, IA", "Iowa City, IA", "Cedar Rapids, IA",
        "Kansas City, MO", "Springfield, MO", "Columbia, MO", "Little Rock, AR",
        "Fayetteville, AR", "New Orleans, LA", "Baton Rouge, LA", "Shreveport, LA",
        "Jackson, MS", "Biloxi, MS", "Memphis, TN", "Nashville, TN", "Knoxville, TN",
        "Chattanooga, TN", "Louisville, KY", "Lexington, KY", "Birmingham, AL",
        "Montgomery, AL", "Mobile, AL", "Huntsville, AL", "Atlanta, GA", "Savannah, GA",
        "Athens, GA", "Macon, GA", "Miami, FL", "Orlando, FL", "Tampa, FL", "Jacksonville, FL",
        "Tallahassee, FL", "Gainesville, FL", "Key West, FL", "Charleston, SC", "Columbia, SC",
        "Greenville, SC", "Charlotte, NC", "Raleigh, NC", "Durham, NC", "Asheville, NC",
        "Wilmington, NC", "Richmond, VA", "Norfolk, VA", "Charlottesville, VA",
        "Arlington, VA", "Roanoke, VA", "Charleston, WV", "Morgantown, WV", "Baltimore, MD",
        "Annapolis, MD", "Bethesda, MD", "Wilmington, DE", "Dover, DE", "Philadelphia, PA",
        "Pittsburgh, PA", "Harrisburg, PA", "Erie, PA", "Scranton, PA", "State College, PA",
        "New York, NY", "Buffalo, NY", "Albany, NY", "Ithaca, NY", "Syracuse, NY",
        "Rochester, NY", "Brooklyn, NY", "Yonkers, NY", "Boston, MA", "Cambridge, MA",
        "Worcester, MA", "Springfield, MA", "Salem, MA", "Amherst, MA", "Providence, RI",
        "Newport, RI", "Hartford, CT", "New Haven, CT", "Stamford, CT", "Burlington, VT",
        "Montpelier, VT", "Concord, NH", "Manchester, NH", "Portland, ME", "Bangor, ME",
        "Augusta, ME", "Cleveland, OH", "Columbus, OH", "Cincinnati, OH", "Toledo, OH",
        "Dayton, OH", "Akron, OH", "Detroit, MI", "Ann Arbor, MI", "Grand Rapids, MI",
        "Lansing, MI", "Flint, MI", "Chicago, IL", "Springfield, IL", "Peoria, IL",
        "Urbana, IL", "Evanston, IL", "Indianapolis, IN", "Bloomington, IN", "Fort Wayne, IN",
        "South Bend, IN", "Milwaukee, WI", "Madison, WI", "Green Bay, WI", "Anchorage, AK",
        "Juneau, AK", "Fairbanks, AK", "Honolulu, HI", "Hilo, HI", "Kailua, HI",
        "Washington, DC", "Saint Louis, MO", "Sarasota, FL", "Savannah, TN", "Athens, OH",
        "Aurora, CO", "Naperville, IL", "Plano, TX", "Scottsdale, AZ", "Takoma Park, MD"
    };
    return values;
}

// Universities.
const std::vector<std::string> &universities()
{
    static const std::vector<std::string> values = {
        "MIT", "Stanford University", "Harvard University", "Princeton University",
        "Yale University", "Columbia University", "Cornell University", "Brown University",
        "Dartmouth College", "Duke University", "Rice University", "Emory University",
        "Tufts University", "Boston University", "Boston College", "Georgetown University",
        "Vanderbilt University", "Northwestern University", "University of Chicago",
        "University of Michigan", "Purdue University", "Ohio State University",
        "Penn State University", "Indiana University", "University of Texas at Austin",
        "Texas A&M University", "University of Washington", "University of Oregon",
        "Oregon State University", "Arizona State University", "University of Arizona",
        "University of Utah", "University of Colorado Boulder", "University of Florida",
        "Florida State University", "University of Georgia", "Georgia Tech",
        "Clemson University", "Auburn University", "University of Alabama",
        "Tulane University", "Baylor University", "Rutgers University", "New York University",
        "Syracuse University", "Fordham University", "Carnegie Mellon University",
        "University of Pittsburgh", "Johns Hopkins University", "University of Maryland",
        "University of Virginia", "Virginia Tech", "Wake Forest University",
        "University of North Carolina", "Caltech", "UCLA", "UC Berkeley", "UC San Diego",
        "UC Davis", "UC Irvine", "UC Santa Barbara", "University of Southern California",
        "Pepperdine University", "Santa Clara University", "San Jose State University",
        "University of Minnesota", "University of Wisconsin", "University of Iowa",
        "Iowa State University", "University of Illinois", "Michigan State University",
        "University of Notre Dame", "Case Western Reserve University",
        "University of Rochester", "Brandeis University", "Northeastern University",
        "Williams College", "Amherst College", "Swarthmore College", "Pomona College",
        "Middlebury College", "Bowdoin College", "Wellesley College", "Smith College",
        "Oberlin College", "Carleton College", "Grinnell College", "Reed College",
        "Vassar College", "Colgate University", "Hamilton College", "Bucknell University",
        "Lehigh University", "Villanova University", "Drexel University", "Temple University",
        "University of Delaware", "University of Vermont", "University of Connecticut",
        "University of Kansas", "University of Kentucky", "University of Tennessee",
        "University of Miami", "University of Houston", "Southern Methodist University",
        "Texas Christian University", "University of Nebraska", "University of Oklahoma",
        "University of New Mexico", "University of Nevada",
        "Washington University in Saint Louis", "Marquette University",
        "Loyola University Chicago", "DePaul University", "Howard University",
        "Spelman College", "Morehouse College", "Gonzaga University", "Seattle University",
        "Portland State University", "Colorado State University", "Montana State University",
        "Boise State University", "University of Hawaii", "University of Alaska",
        "Kent State University", "Rensselaer Polytechnic Institute",
        "Worcester Polytechnic Institute", "Stevens Institute of Technology",
        "Harvey Mudd College", "University of Toronto", "McGill University",
        "University of Oxford", "University of Cambridge", "Imperial College London",
        "ETH Zurich", "University of Tokyo", "Seoul National University",
        "Tsinghua University", "National University of Singapore", "University of Melbourne",
        "Technical University of Munich", "Sorbonne University", "University of Edinburgh",
        "Delft University of Technology"
    };
    return values;
}

// Fields of study.
const std::vector<std::string> &majors()
{
    static const std::vector<std::string> values = {
        "Communications", "Computer Science", "Mathematics", "Physics", "Chemistry", "Biology",
        "Economics", "History", "Philosophy", "Psychology", "Sociology", "Anthropology",
        "Political Science", "English Literature", "Linguistics", "Art History", "Music",
        "Theater", "Film Studies", "Architecture", "Civil Engineering",
        "Mechanical Engineering", "Electrical Engineering", "Chemical Engineering",
        "Aerospace Engineering", "Biomedical Engineering", "Industrial Engineering",
        "Materials Science", "Environmental Science", "Geology", "Astronomy", "Statistics",
        "Data Science", "Nursing", "Public Health", "Nutrition", "Kinesiology", "Neuroscience",
        "Biochemistry", "Microbiology", "Genetics", "Ecology", "Marine Biology", "Zoology",
        "Botany", "Agriculture", "Forestry", "Finance", "Accounting", "Marketing",
        "Business Administration", "Management", "Supply Chain Management",
        "International Relations", "Public Policy", "Urban Planning", "Journalism",
        "Creative Writing", "Education", "Special Education", "Social Work",
        "Criminal Justice", "Law", "Religious Studies", "Classics", "French", "Spanish",
        "German", "Japanese", "Chinese", "Arabic", "Russian", "Italian", "Graphic Design",
        "Industrial Design", "Fashion Design", "Interior Design", "Photography", "Dance",
        "Painting", "Sculpture", "Game Design", "Information Systems", "Cybersecurity",
        "Robotics", "Operations Research", "Actuarial Science", "Hospitality Management",
        "Sports Management", "Pharmacology", "Veterinary Science", "Geography", "Oceanography",
        "Meteorology", "Cognitive Science", "Gender Studies", "African American Studies",
        "Latin American Studies", "Asian Studies", "Medieval Studies", "Musicology",
        "Nuclear Engineering", "Software Engineering", "Applied Mathematics",
        "Comparative Literature", "Landscape Architecture", "Agricultural Economics",
        "Animal Science", "Library Science", "Museum Studies"
    };
    return values;
}

// Employers (mostly invented).
const std::vector<std::string> &employers()
{
    static const std::vector<std::string> values = {
        "Meta Platforms", "Northwind Traders", "Contoso Labs", "Fabrikam Systems",
        "Globex Corporation", "Initech", "Umbrella Biotech", "Acme Robotics",
        "Stark Fieldworks", "Wayne Logistics", "Hooli", "Pied Piper Data",
        "Vandelay Industries", "Cyberdyne Analytics", "Soylent Foods", "Tyrell Genetics",
        "Wonka Confections", "Gringotts Savings", "Oscorp Materials", "Massive Dynamic",
        "Aperture Optics", "Black Mesa Research", "Blue Sun Beverages", "Dunder Paper Company",
        "Sterling Cooper Advertising", "Prestige Worldwide", "Bluth Homes", "Monarch Shipping",
        "Ollivander Woodcraft", "Zorg Engineering", "Halcyon Health", "Juniper Ridge Software",
        "Silverline Mobility", "Crescent Moon Media", "Ironbark Construction",
        "Bright Harbor Bank", "Redwood Analytics", "Copperleaf Energy", "Lumen Grid Power",
        "Northstar Aerospace", "Tidewater Marine", "Falconcrest Insurance",
        "Evergreen Outfitters", "Harborview Hospital", "Summit Peak Capital",
        "Clearwater Utilities", "Granite State Mutual", "Bluebird Airlines",
        "Sunflower Seeds Cooperative", "Pinecone Publishing", "Orchard Valley Farms",
        "Brightwater Pharmaceuticals", "Quantum Forge", "Nimbus Cloud Services",
        "Vertex Semiconductors", "Pioneer Rail", "Lighthouse Learning", "Keystone Steel",
        "Frontier Telecom", "Maplewood Furniture", "Golden Gate Bakery", "Starlight Cinemas",
        "Riverbend Paper Mills", "Stonehill Quarries", "Cobalt Mining Group",
        "Heliotrope Solar", "Aurora Textiles", "Sapphire Hotels", "Amberwave Audio",
        "Windmill Wind Power", "Foxglove Cosmetics", "Driftwood Design Studio",
        "Blue Heron Consulting", "Catalina Cruise Lines", "Cedar Point Architects",
        "Ember Games", "Polaris Navigation", "Kingfisher Foods", "Monolith Security",
        "Obsidian Software", "Pacific Crest Trucking", "Prairie Wind Insurance",
        "Quicksilver Couriers", "Raven Rock Defense", "Saffron Spice Traders",
        "Tanglewood Toys", "Thunderbird Motors", "Trillium Medical Devices", "Urbanist Realty",
        "Velvet Rope Events", "Willowbrook Dairy", "Yellowstone Outdoor Gear", "Zephyr Fans",
        "Arcadia Biosciences", "Bellwether Polling", "Cardinal Credit Union",
        "Delta Bay Seafood", "Eastgate Mall Holdings", "Fairweather Forecasting",
        "Gallant Legal Partners", "Highland Distillers", "Indigo Ink Printing",
        "Jetstream Logistics", "Kaleidoscope Animation", "Lakeside Water Works",
        "Meridian Mapping", "Nova Vista Eyewear", "Opal Coast Jewelers", "Pennywhistle Music",
        "Quarry Lane Builders", "Rosewood Senior Living", "Seabright Fisheries",
        "Timberline Lumber", "Upland Coffee Roasters", "Vantage Point Surveys",
        "Westbrook Pharmacy", "Xylo Instruments", "Yarrow Herbal Remedies", "Zenith Elevators",
        "Alpine Air Filters", "Beacon Hill Tutors", "Canyon Ridge Vineyards",
        "Dovetail Carpentry", "Echo Valley Radio", "Firefly Lighting", "Greenleaf Organics",
        "Hummingbird Nurseries", "Iris Vision Labs", "Jadestone Ceramics", "Kestrel Drones",
        "Lodestar Compasses", "Mariner Sailcloth", "Nightingale Nursing Services",
        "Oakmont Country Club", "Paragon Plastics", "Quill and Scroll Stationers",
        "Ridgeline Bicycles", "Starboard Yachts", "Thistle Down Bedding", "Undertow Surf Shop",
        "Vireo Birdwatching Tours", "Wildflower Honey", "Anchor Point Storage",
        "Bramble Berry Farms", "Coastline Ferries", "Dragonfly Robotics", "Emerald City Tech",
        "Foundry Row Metalworks", "Glacier Springs Water", "Horizon Ventures",
        "Ivory Tower Press", "Jubilee Catering", "Keel and Mast Boatworks", "Larkspur Linens",
        "Moonstone Semiconductors", "Nautilus Submarines", "Orion Telescopes",
        "Peregrine Express", "Quartz Clocks Company", "Rainmaker Irrigation",
        "Sequoia Health Partners", "Tern Island Resorts", "Umber Paint Works",
        "Vesta Home Appliances", "Whitewater Rafting Company", "Axiom Accounting",
        "Bastion Cybersecurity", "Citadel Vaults", "Dynamo Fitness", "Equinox Clinics",
        "Fulcrum Engineering", "Gossamer Fabrics", "Hyperion Data Centers",
        "Inkwell Animation", "Jasper Canyon Mining", "Kinetic Motors", "Labyrinth Puzzles",
        "Magellan Travel", "Nebula Networks", "Osprey Outdoor", "Parallax Cameras",
        "Quasar Pharmaceuticals", "Rhombus Architecture", "Solstice Renewables",
        "Triton Water Systems", "Ultraviolet Labs", "Vortex Ventilation",
        "Wavelength Broadcasting", "Zodiac Bookbinders", "Amber Fields Grain",
        "Birchwood Academy", "Cirrus Aviation", "Driftless Creamery", "Elmstead Pottery",
        "Fernhill Gardens", "Goldcrest Mortgage", "Hearthstone Stoves",
        "Islington Tea Company", "Juniper Cove Kayaks", "Kiln Street Glassworks",
        "Lantern Bay Tours", "Millbrook Textiles"
    };
    return values;
}
const std::vector<std::string> &monthNames()
{
    static const std::vector<std::string> values = {
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December"};
    return values;
}

} // namespace nugget::zoo
