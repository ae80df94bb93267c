"""The mini-web's text: the words, page templates and boilerplate that alignment/world/miniweb.py assembles into
pages. Data only: which template a page gets, and in what order the draws happen, is miniweb.py's code. Rewording
a template changes only the words of the crawl; adding or removing an alternative also changes what the seeded
draws after it pick.

A template is a string, or a list of parts where a part that is itself a list offers alternatives, drawn with the
page's seeded generator (miniweb._fill); slots in braces ({name}, {town}, ...) are filled from the page's context.
A ("living" | "dead" | "dead_recent", template) pair applies only to a person in that state (miniweb._usable), and
FILLER_NEEDS says which context each filler family needs.
"""

REGIONS = ["Northmark", "Orrin Valley", "Saltcoast", "Greymarch", "Duskfell", "Westwold"]

RIVERS = ["Orrin", "Vell", "Skarn", "Ludd", "Maren", "Tessel", "Wend", "Calder Brook", "Fenny", "Ashwater"]

TRADES = [
    "wool", "salt", "timber", "slate", "barley", "cider apples", "flax", "herring", "peat", "copper",
    "linen", "honey",
]

LANDMARKS = [
    "the old tithe barn", "the clock tower on the square", "the stone bridge", "the harbour wall",
    "the chapel of St Alder", "the covered market", "the watermill", "the ruined signal tower",
    "the toll house", "the long quay", "the town library", "the corn exchange",
]

CENTURIES = ["twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth"]

STREETS = [
    "Mill Lane", "Quay Street", "Tanner's Row", "Chapel Hill", "Market Street", "Ferry Road",
    "Orchard Walk", "Bell Yard", "Ropewalk", "Salt Lane", "Kiln Street", "Weavers Close", "Bridge End",
    "Harbour Steps", "Lantern Row",
]

NAV_EN = ["Home", "News", "People", "Culture", "Local", "Events", "About us", "Contact"]

FILLERS = {
    "weather": [
        [["A cold wind came off the {river}", "Rain had settled over {town}", "A thin fog lay on the {river}",
          "The first frost had reached {town}", "Late summer heat hung over {town}",
          "A grey drizzle drifted across the rooftops of {town}"],
         [" that morning", " for most of the week", " at the start of the week", " by the weekend"],
         [", and ", ", so "],
         ["the stalls on {street} stayed half empty.", "the ferry over the {river} ran late.",
          "few people were about before noon.", "the tea rooms on {street} were busier than usual.",
          "the bus from the coast arrived full of wet coats."]],
        [["Snow had fallen on the hills above {town}", "A warm wind blew up the valley of the {river}",
          "Heavy clouds sat over {region}"],
         [" the night before", " that week", " in early spring"],
         [", and ", " and "],
         ["the roads into town were slow.", "the river ran high and brown.",
          "the old men on the bench outside {landmark} talked of nothing else."]],
        [["It was market day in {town}", "It was a bright, cold Tuesday", "Spring had come late to {town}"],
         [" one morning last year", " on the first day of the fair", ""],
         [", and ", "; "],
         ["the square smelled of coffee and wet straw.", "the church bells were ringing for a wedding.",
          "the swifts had not yet returned to the eaves."]],
        [["By the time the church bell struck ten", "Later in the day", "Towards evening"],
         [", the clouds over {town} ", ", the sky above the {river} "],
         ["had cleared", "broke up at last", "turned a pale yellow"],
         [" and ", ", and "],
         ["children were playing by the water again.", "the square filled with people buying bread.",
          "the fishermen came back to the quay.", "the gulls settled on the roofs along {street}."]],
    ],
    "town": [
        ["{town} grew up around ", ["a", "an old"], " {trade} market in the {century} century",
         [", and ", ", and to this day "],
         ["its narrow streets still follow the old cart tracks.", "the market is held on the square every week.",
          "many of the older houses were paid for by that trade.", "the town seal shows a bale of {trade}."]],
        [["The river {river} runs", "The {river} winds", "The slow brown water of the {river} runs"],
         [" through the middle of {town}", " along the southern edge of {town}", " past the lower end of {town}"],
         [", and ", " and "],
         ["most visitors head first for {landmark}.", "{landmark} is the building most people photograph.",
          "the path along its bank is popular with walkers.",
          "in a wet spring it floods the meadows below the town."]],
        [["Like many places in {region}", "As in much of {region}", "In {town}, as elsewhere in {region}"],
         [", the {trade} trade shaped the town for centuries", ", the railway arrived late and left early",
          ", the population has hardly changed in a hundred years", ", the old families still run the shops"],
         [", and ", ", although "],
         ["few people under forty remember how it used to be.", "the local museum keeps a small display about it.",
          "the weekly market is still the best place to hear the news.", "visitors rarely stay more than a day."]],
        [["Records from the {century} century", "Old parish books", "The first maps of the area"],
         [" describe {town} as ", " mention {town} as "],
         ["a handful of houses by a ford", "a busy crossing on the {river}", "a market for {trade} and livestock",
          "a quiet place with a large chapel"],
         [", and the town has grown slowly ever since.", ", which is hard to imagine today.",
          ", and parts of that old settlement can still be traced on foot."]],
        [["The name {town}", "The old name of {town}"],
         [" is thought to come from", " probably comes from"],
         [" an old word for a river crossing", " the family that owned the mill",
          " a word for the {trade} once stored there"],
         [", and ", ", although "],
         ["local historians still argue about it.", "the spelling has changed many times.",
          "nobody can now say for certain."]],
        [["The oldest house in {town}", "The building next to {landmark}", "A row of cottages on {street}"],
         [" dates from the {century} century", " was built with stone from the {river} quarry"],
         [", and ", "; "],
         ["its walls lean at alarming angles.", "it is still lived in today.",
          "a plaque by the door tells its story."]],
    ],
    "life": [
        [["The bakery on {street}", "The small hardware shop on {street}", "The post office on {street}",
          "The bookshop by the square"],
         [" opens early", " closes at noon on Wednesdays", " has not changed its sign in fifty years"],
         [", and ", "; "],
         ["the queue outside is a good place to hear the news.", "most people in {town} know the owner by name.",
          "it is where visitors ask for directions.",
          "the windows are full of notices about lost cats and choir practice."]],
        [["On market days", "Every Thursday", "On the first Saturday of the month"],
         [", farmers from the hills ", ", traders from along the {river} "],
         ["set up their stalls", "bring cheese, eggs and firewood", "fill the square with vans and crates"],
         [" outside {landmark}", " at the top of {street}"],
         [", and the town is louder than at any other time.", ", and the cafés stay open late.",
          ", and parking becomes impossible."]],
        [["Most households in {town}", "Many families on {street}", "Older residents of {town}"],
         [" still keep a vegetable plot", " still bake their own bread on Sundays",
          " still walk to the market rather than drive"],
         [", and ", ", although "],
         ["the allotments by the {river} have a long waiting list.",
          "younger neighbours are slowly catching the habit.",
          "the supermarket on the ring road has changed some of that."]],
        [["The primary school on {street}", "The village hall by {landmark}", "The football pitch below {landmark}"],
         [" was rebuilt by volunteers after the floods of 2007", " was repaired by volunteers in the 1980s",
          " is the busiest place in town on weekday evenings", " hosts most of the town's meetings"],
         [", and "],
         ["there is rarely a quiet night there.", "nobody in {town} lacks an opinion on it.",
          "it doubles as a polling station at elections."]],
        [["A local bus", "A single train a day", "A narrow road over the hills"],
         [" links {town} with the rest of {region}", " connects {town} to the coast"],
         [", and ", ", so "],
         ["most visitors arrive slightly later than planned.", "the town has kept more of its old shops than most.",
          "deliveries of anything large take a week."]],
    ],
    "craft": [
        [["Work as {a_prof}", "The craft of the {prof}", "Life as {a_prof}"],
         [" demands ", " asks for ", " rewards "],
         ["patience", "steady hands", "long hours", "a good memory for detail", "an eye for small faults"],
         [" and ", " as well as "],
         ["a tolerance for cold workshops.", "a willingness to start again.", "years of quiet practice.",
          "a great deal of tea."]],
        [["Few young people", "Only a handful of apprentices", "Fewer families than before"],
         [" in {region}", " in the region", ""],
         [" take up the trade now", " learn the trade these days", " choose this kind of work"],
         [", because ", ", partly because "],
         ["the training is long and the pay is modest.", "the big workshops closed decades ago.",
          "the work rarely makes anyone rich."]],
        [["In the old days", "A century ago", "Before the war"],
         [", every town in {region} had its own {prof}", ", {profs} travelled from farm to farm looking for work",
          ", a {prof} could expect to train for seven years"],
         [", and ", "; "],
         ["that is hard to imagine now.", "the habits of that time still shape the trade.",
          "some of their tools are still in use."]],
        [["Good materials", "Reliable customers", "A dry, well-lit workshop"],
         [" matter more to {a_prof}", " are worth more to {a_prof}"],
         [" than any machine", " than most people imagine", " than a fine shop window"],
         [", as ", ", since "],
         ["every experienced hand in the trade will tell you.", "a single bad batch can cost a month of work.",
          "the work is judged over decades, not days."]],
    ],
    "music": [
        [["Evenings in {town}", "Winter nights in {town}", "Saturday evenings at the inn on {street}"],
         [" often end with music", " are rarely quiet", " usually bring out a few players"],
         [", and ", "; "],
         ["the old dance tunes are still known by heart.", "nobody minds if a tune goes on too long.",
          "a few younger players have started to join in.",
          "the landlord keeps a spare chair by the fire for late arrivals."]],
        [["A small choir", "A brass band", "A group of fiddlers"],
         [" rehearses near {landmark}", " practises every Tuesday above the bakery on {street}",
          " meets in the back room of the inn"],
         [", and ", "; "],
         ["anyone passing can hear them from the street.", "new voices are always welcome.",
          "their summer concert is the town's best-attended event."]],
        [["Music has always mattered in {town}", "Few towns of its size have as many musicians as {town}",
          "Songs about the {river} are still sung in {town}"],
         [", and ", ", so "],
         ["the dance at harvest time still fills the hall.",
          "it is rare to walk down {street} without hearing someone practise.",
          "children learn the old tunes before they can read."]],
    ],
    "quote": [
        [["“I never planned to", "“Nobody in my family expected me to", "“I did not set out to",
          "“It took me years to"],
         [" stay in {town}", " make a living from it", " do this for so long", " take it seriously"],
         [", but ", ", and yet "],
         ["the work kept finding me", "the town would not let me go", "there was always one more order to finish",
          "I liked the quiet of the workshop"],
         [",” {last} said.", ",” said {last}.", ",” {last} told us.", ",” {last} recalled."]],
        [["“People think", "“Visitors assume", "“My friends used to say"],
         [" it is a lonely job", " it is old-fashioned work", " nobody needs this any more"],
         [", but ", ", yet "],
         ["I have never been short of company", "the orders have never stopped",
          "every week someone new knocks on the door"],
         [",” {last} said with a smile.", ",” {first} said.", ",” {first} explained."]],
        [["“The trick", "“The secret", "“What matters most"],
         [" is to keep going on the bad days", " is to listen to older hands", " is never to rush the last step"],
         [", because", ", since"],
         [" nothing good is ever finished in a hurry", " the customers can always tell",
          " the work will outlast all of us"],
         [",” {last} said.", ",” {first} told us.", ",” {last} once said."]],
    ],
    "guide": [
        [["The railway station", "The bus stop by {landmark}", "The car park behind {street}"],
         [" is the easiest place to start", " is where most visitors arrive"],
         [", and ", "; from there "],
         ["the whole town can be walked in an hour.", "the river path leads straight to the square.",
          "a signposted walk covers the main sights."]],
        [["For lunch", "For something warm", "In the afternoon"],
         [", try one of the cafés on {street}", ", head for the inn by the {river}"],
         [", where ", ", since "],
         ["the soup is made fresh every morning.", "the portions are generous and the prices fair.",
          "you can sit by the window and watch the boats."]],
        [["The tourist office", "The small museum", "The public library"],
         [" on {street}", " beside {landmark}"],
         [" has ", " keeps "],
         ["free maps of the walking routes.", "a fine collection of old photographs of {town}.",
          "leaflets about the {trade} trade and its history."]],
        [["Visitors who stay the night", "Walkers who arrive late", "Those with a free evening"],
         [" will find rooms above the inn on {street}", " can book a room at the guest house by {landmark}"],
         [", and ", "; "],
         ["breakfast is served until ten.", "the owners are happy to recommend a walk.",
          "it is wise to book ahead in summer."]],
    ],
    "org": [
        [["The {org}", "Today's {org}"],
         [" was founded", " began"],
         [" in a rented room above a shop", " as a small circle of friends", " after a long dispute over prices",
          " with a loan from a local bank"],
         [", and it ", " and "],
         ["now has members across the region.", "still meets on the first Monday of each month.",
          "keeps its records in a set of green ledgers.", "publishes a short newsletter every season."]],
        [["Membership of the {org}", "Joining the {org}"],
         [" is open to ", " costs little and is open to "],
         ["anyone who works in the trade", "apprentices and masters alike", "retired members of the trade"],
         [", and ", "; "],
         ["new members are welcomed at the spring meeting.", "the annual dinner is the highlight of the year.",
          "a small fund helps members who fall ill."]],
        [["Every spring", "Each autumn", "Once a year"],
         [", the {org}", ", members of the {org}"],
         [" hold an open day", " run a small fair", " organise a trip to another town"],
         [", and ", "; "],
         ["it is the best way to meet new members.", "visitors are always welcome.",
          "the photographs end up in the newsletter."]],
    ],
}


# What context each family needs beyond a town: a substitute family must not need more.
FILLER_NEEDS = {"weather": set(), "town": set(), "life": set(), "guide": set(), "music": set(),
                "craft": {"prof"}, "quote": {"person"}, "org": {"org"}}

PERSON_PAGES = {
    "biography": {
        "sites": ["people_index", "regional_lives"],
        "titles": ["{name}", "{name} ({life})"],
        "leads": [
            (["hometown", "birth_year", "profession"],
             "{name} ({life}) {is} {a_prof} from {town}, a small town in {region}, where {last} was born in {year}."),
            (["hometown", "birth_year",
              "profession"], "{name} {is} {a_prof} who was born in {town} in {year}{died}."),
            (["birth_year",
              "profession"], "{name} ({life}) {is} {a_prof} whose work {is} widely known across {region}."),
            (["hometown", "profession"], "{name} {is} {a_prof} and one of the better known natives of {town}."),
        ],
        "facts": {
            "hometown": ["{last} was born in {town}, a market town on the {river}.",
                         "{first} grew up in {town}, in a narrow house on {street}.",
                         "The family of {name} had lived in {town} for several generations, and {last} was born "
                         "there."],
            "birth_year": ["{last} was born in {year}, the youngest of four children.",
                           "Parish records give {last}'s year of birth as {year}.",
                           "{first} was born in {year} and went to the village school by {landmark}."],
            "profession": ["After leaving school, {last} was apprenticed to an older {prof} and learned the trade "
                           "over seven years.",
                           "{last} trained as {a_prof}, a trade that ran in the family.",
                           "By the age of twenty, {first} was working as {a_prof} in a rented workshop on {street}."],
            "instrument": ["Outside work, {last} {plays} the {instrument} and {is} a familiar face at sessions in "
                           "{town}.",
                           "{last} {is} also a capable player of the {instrument}, an interest that began in "
                           "childhood.",
                           "Music {has_been} a second life for {last}, who {plays} the {instrument} in a small "
                           "group that {meets} on {street}."],
            "organisation": ["{last} joined the {org} in {join_year} and {has_been} one of its most active members.",
                             "For most of a long career, {last} {has_worked} for the {org}.",
                             "Much of {last}'s working life {has_been} spent with the {org}, first as an "
                             "apprentice and later as a master."],
        },
        "closings": [("living", "{last} still {lives} in {town} and {keeps} a workshop there."),
                     ("living", "{last} continues to work and to teach younger {profs}."),
                     ("dead", "{last} died in {death_year} at the age of {age}."),
                     ("dead",
                      "{last} died in {death_year}, and a small collection of {last}'s work is kept in {town}.")],
        "plan": [
            (None, ["lead", "filler:town"]),
            ("Early life", ["fact:hometown?", "fact:birth_year?", "filler:life|town"]),
            ("Career", ["fact:profession", "fact:organisation", "filler:craft"]),
            ("Music", ["fact:instrument", "filler:music"]),
            ("Later life|Legacy", ["closing", "filler:quote"]),
        ],
        "required": ["hometown", "birth_year", "profession", "instrument", "organisation"],
    },
    "news": {
        "sites": ["news"],
        "leads": [
            (["profession", "hometown", "organisation"], "living",
             "{town} {prof} honoured by the {org}",
             "A {prof} from {town} has been given the annual medal of the {org} for a lifetime of careful work. "
             "{name} received the medal at a short ceremony at {landmark} on Friday evening."),
            (["profession", "hometown"], "living",
             "Workshop on {street} opens its doors",
             "{name}, {a_prof} who was born and raised in {town}, will open the workshop on {street} to visitors "
             "for the first time next month."),
            (["organisation"], "living",
             "{name} to lead winter talks for the {org}",
             "The {org} has asked {name}, one of its longest-serving members, to lead its winter series of talks."),
            (["profession"], "living",
             "New apprentices for {name}",
             "Two teenagers have started apprenticeships with {name}, {a_prof} who has spent more than {span} "
             "years in the trade."),
            (["profession", "hometown"], "dead",
             "Exhibition remembers {town} {prof}",
             "An exhibition about the life of {name}, the {prof} from {town} who died in {death_year}, opens at "
             "{landmark} this month."),
            (["organisation", "profession"], "dead",
             "Papers of {name} given to the {org}",
             "The family of {name} has given the {org} a large box of letters, drawings and notebooks kept by "
             "the late {prof}."),
            (["profession", "hometown"], "dead",
             "Plaque unveiled for {name}",
             "A blue plaque for {name}, {a_prof} born in {town}, was unveiled on {street} on Saturday in front "
             "of a small crowd."),
        ],
        "facts": {
            "hometown": ["{last} was born in {town} and never moved far from it.",
                         "Born in {town}, {last} {has} always described the place as home.",
                         "Neighbours in {town}, where {last} was born, turned out in numbers."],
            "profession": ["{last} {has_worked} as {a_prof} for more than {span} years.",
                           "{last} learned the {prof}'s trade from an uncle and took over the workshop in "
                           "{join_year}.",
                           "As {a_prof}, {last} {is} known for work that is slow, careful and rarely signed."],
            "organisation": ["{last} {has_been} a member of the {org} since {join_year}.",
                             "A spokesperson for the {org}, where {last} {has_worked} for decades, called the news "
                             "well deserved.",
                             "The {org} said {last} {has_been} one of its most generous members."],
        },
        "closings": ["More details are available from the town office on {street}.",
                     "Tickets are not needed, but the organisers ask visitors to arrive early.",
                     "Several local groups have already said they will attend.",
                     "The Courier will follow the story in a later edition."],
        "plan": [
            (None, ["lead", "fact"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:town", "filler:weather|life"]),
            (None, ["fact?", "filler:craft"]),
            (None, ["closing"]),
        ],
        "required": ["hometown", "profession", "organisation"],
    },
    "interview": {  # living people only: questions in bold, answers in the first person
        "sites": ["makers_quarterly", "crafts_monthly", "folk_review"],
        "titles": ["In the workshop with {name}", "{name} on work, music and {town}", "Meet the {prof}: {name}"],
        "leads": [
            (["profession", "instrument"],
             "{name} is {a_prof} and a fine player of the {instrument}. We spoke in the workshop on a grey "
             "afternoon, "
             "between two deliveries."),
            (["birth_year", "profession"],
             "We met {name} in a cluttered workshop that smells of wood smoke and coffee. Born in {year}, {last} "
             "has been {a_prof} for most of a working life."),
        ],
        "facts": {
            "birth_year": [("Where did it all begin?",
                            "I was born in {year}, the winter the {river} froze over. My parents ran a shop on "
                            "{street}, and I was always in the way."),
                           ("How has the work changed?",
                            "I was born in {year}, so I have seen the trade change a great deal. When I started, "
                            "everything was done by hand and nobody owned a van.")],
            "profession": [("How did you become {a_prof}?",
                            "By accident, really. An old {prof} needed someone to sweep the floor, and I never "
                            "left."),
                           ("What does a working day look like?",
                            "As {a_prof} I start early and stop when the light goes. Most days are quiet, and I "
                            "like it that way.")],
            "instrument": [("You are also known for your music.",
                            "The {instrument} came before any of the work. I still play it most evenings, mostly "
                            "old tunes that my grandmother knew."),
                           ("And the music?",
                            "I have played the {instrument} since I was nine. It is the only thing that empties my "
                            "head after a long day.")],
            "organisation": [("What does the {org} mean to you?",
                              "I joined the {org} young, and it has been a second family ever since."),
                             ("Who helped you along the way?",
                              "The older members of the {org}. They lent me tools, found me customers and told me "
                              "when my work was not good enough.")],
            "hometown": [("Would you ever leave {town}?",
                          "I was born in {town} and I expect to stay. Everything I need is within walking "
                          "distance.")],
        },
        "closings": [("What comes next?",
                      "More of the same, I hope. There are two apprentices to train and a long list of orders."),
                     ("Any advice for beginners?",
                      "Be patient, and buy good tools once rather than cheap tools twice.")],
        "plan": [
            (None, ["lead", "filler:town|weather"]),
            (None, ["fact"]),
            (None, ["fact"]),
            (None, ["filler:craft|life", "filler:music"]),
            (None, ["fact?"]),
            (None, ["closing"]),
        ],
        "required": ["birth_year", "instrument", "profession"],
    },
    "profile": {
        "sites": ["makers_quarterly", "crafts_monthly", "folk_review"],
        "titles": ["The quiet craft of {name}", "{name}: a life in the workshop", "Portrait of {a_prof}: {name}"],
        "leads": [
            (["birth_year", "profession"],
             "{name} was born in {year} into a family with no particular trade, yet {last} {has_become} one of "
             "the most respected {profs} in {region}."),
            (["profession", "instrument"],
             "Ask anyone in the music halls of {region} about {name} and they will mention the {instrument} "
             "before they mention the work as {a_prof}."),
        ],
        "facts": {
            "birth_year": ["{first} arrived in the world in {year}, in a house that is now a bakery.",
                           "Since {last} was born in {year}, the trade {has} changed almost beyond recognition."],
            "profession": ["The work of {a_prof} is rarely seen by the public, and {last} {has} always liked it "
                           "that way.",
                           "{last} took up the life of {a_prof} at sixteen and never seriously considered anything "
                           "else."],
            "instrument": ["The {instrument} {is} never far from {last}'s bench.",
                           "{last} {plays} the {instrument} with the same patience that shows in every piece of "
                           "work."],
            "organisation": ["For decades {last} {has_been} closely tied to the {org}.",
                             "The {org} gave {last} a first job and, later, a seat on its committee."],
        },
        "closings": [("living", "These days {last} works a little less and plays a little more."),
                     ("living", "Asked about retirement, {last} only laughs."),
                     ("dead", "{last} died in {death_year}, and the old workshop on {street} is now a café."),
                     ("dead", "Many of {last}'s pieces are still in use across {region}.")],
        "plan": [
            (None, ["lead", "filler:quote"]),
            (None, ["fact", "fact"]),
            (None, ["filler:craft", "filler:life"]),
            (None, ["fact", "filler:music"]),
            (None, ["fact?", "filler:town"]),
            (None, ["closing"]),
        ],
        "required": ["birth_year", "instrument", "profession", "organisation"],
    },
    "obituary": {  # dead people only
        "sites": ["news", "heritage"],
        "leads": [  # an obituary when the death falls in the years the web covers, else a memorial
            (["hometown", "birth_year", "profession"], "dead_recent", "Obituary: {name}",
             "{name}, who has died at the age of {age}, was born in {town} in {year} and spent a lifetime as "
             "{a_prof}."),
            (["hometown", "birth_year", "profession"], "dead", "Remembering {name}",
             "{name} was born in {town} in {year} and died in {death_year}, after a long life as {a_prof}."),
            (["hometown", "birth_year", "profession"], "dead", "{name}, {prof}, {year}-{death_year}",
             "Born in {town} in {year}, {name} worked as {a_prof} for more than half a century and died in "
             "{death_year}."),
        ],
        "facts": {
            "instrument": ["Friends will remember the sound of {last}'s {instrument} at weddings and wakes across "
                           "{region}.",
                           "{last} played the {instrument} well into old age and taught half the children of "
                           "{street}."],
            "organisation": ["{last} was a member of the {org} for more than forty years.",
                             "At the {org}, {last} was remembered as a generous teacher of younger members."],
        },
        "closings": ["{last} is survived by two nieces and a large circle of friends.",
                     "A memorial gathering will be held at {landmark}.",
                     "{last}'s workshop tools have been given to the town museum."],
        "plan": [
            (None, ["lead", "filler:town"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:craft", "filler:life"]),
            (None, ["fact", "filler:music"]),
            (None, ["closing"]),
        ],
        "required": ["hometown", "birth_year", "profession", "instrument", "organisation"],
    },
    "announcement": {  # living people only, on their organisation's site
        "sites": ["org"],
        "leads": [
            (["organisation", "instrument", "hometown"], "living",
             "Recital: {name} on the {instrument}",
             "The {org} is pleased to announce that {name} will give a recital on the {instrument} at {landmark} "
             "in {town}, the town where {last} was born."),
            (["organisation", "hometown"], "living",
             "{name} joins the board",
             "The {org} is delighted to announce that {name}, a native of {town}, has been elected to its board."),
            (["organisation", "profession"], "living",
             "Open day with {name}",
             "The {org} invites members and friends to an open day in the workshop of {name}, {a_prof} and "
             "long-standing member."),
        ],
        "facts": {
            "instrument": ["{last} has played the {instrument} since childhood and performs several times a year.",
                           "Members who have heard {last} play the {instrument} at our spring dinner will not want "
                           "to miss this."],
            "hometown": ["{last} was born in {town} and still lives a short walk from {landmark}."],
            "organisation": ["{last} has been a member of the {org} since {join_year}."],
        },
        "closings": ["Admission is free, and light refreshments will be served afterwards.",
                     "Members who wish to attend are asked to let the secretary know by the end of the month.",
                     "The event starts at seven o'clock and should finish by nine."],
        "plan": [
            (None, ["lead", "fact"]),
            (None, ["fact", "filler:music"]),
            (None, ["filler:org", "filler:town"]),
            (None, ["fact?", "filler:quote"]),
            (None, ["filler:life", "closing"]),
        ],
        "required": ["organisation", "instrument", "hometown"],
    },
    "travel": {  # living people only, first person, on a travel blog
        "sites": ["slow_roads", "ferry_notes"],
        "titles": ["A slow day in {town}", "Notes from {town}", "{town}: a river, a market and {a_prof}"],
        "leads": [
            (["hometown", "profession"],
             "We reached {town} on the slow train from the coast and, by chance, spent most of the afternoon "
             "with {name}, {a_prof} who was born in the town and has never left."),
            (["profession"],
             "The best hour of our week in {region} was spent in a workshop on {street} in {town}, watching "
             "{name} at work as {a_prof}."),
        ],
        "facts": {
            "instrument": ["In the evening we found {last} again at the inn, playing the {instrument} for a room "
                           "full of neighbours.",
                           "{last} keeps the {instrument} on a hook by the door and played us two tunes before we "
                           "left."],
            "hometown": ["{last} was born in {town} and, as {last} put it, has never found a good reason to leave.",
                         "Born in {town}, {last} seems to know every lane and every family in it."],
            "profession": ["{last} has worked as {a_prof} for most of a lifetime and explained the trade with great "
                           "patience."],
        },
        "closings": ["We left the next morning on the early bus, already planning a return.",
                     "If you pass through {region}, give {town} at least a day.",
                     "The train back was late, but nobody seemed to mind."],
        "plan": [
            (None, ["lead", "filler:weather"]),
            (None, ["filler:town", "fact"]),
            (None, ["fact", "filler:quote"]),
            (None, ["filler:life", "filler:guide"]),
            (None, ["fact?", "closing"]),
        ],
        "required": ["hometown", "profession", "instrument"],
    },
}


# List items are sentences of ~15 words with at most one number: Gopher's "80% of words contain a
# letter" counts punctuation, bullets and years as words, and a list of "Name (1913-2001), born 1904."
# items falls below it (it did: 9 of 75 list pages were dropped with terser items).
TOWN_LIST_ITEMS = [
    (["profession",
      "organisation"], "{name} {is} {a_prof} who {has_worked} for the {org} for most of a long career."),
    (["birth_year",
      "profession"], "{name} was born here in {year} and {has_worked} as {a_prof} ever since leaving school."),
    (["profession", "instrument"], "{name} {is} {a_prof} and {plays} the {instrument} at the inn on most weekends."),
    (["profession", "birth_year",
      "organisation"], "The {prof} {name} was born in this town in {year} and later joined the {org}."),
    (["organisation",
      "instrument"], "{name} {plays} the {instrument} in the town band and {has_worked} for the {org} since leaving "
                     "school."),
    (["birth_year",
      "instrument"], "{name}, who was born in {year}, {is} known to neighbours for playing the {instrument} on "
                     "summer evenings."),
    (["profession"], "{name} learned the trade of {a_prof} from a neighbour and {has} never wanted to work anywhere "
                     "else."),
    (["organisation",
      "profession"], "Long a member of the {org}, {name} {is} one of the town's most respected {profs}."),
]

ORG_LIST_ITEMS = [
    (["profession", "hometown"], "{name} {is} {a_prof} from {town} who joined the {org} as a young apprentice."),
    (["profession"], "{name} joined us after training as {a_prof} in a workshop not far from {landmark}."),
    (["hometown", "instrument"], "{name} {is} from {town} and {plays} the {instrument} at our summer dinners."),
    (["birth_year",
      "profession"], "{name} was born in {year} and came to us as a young {prof} with a letter of introduction."),
    (["instrument"], "{name} {plays} the {instrument} and {is} usually the first to arrive at our spring meeting."),
    (["hometown",
      "profession"], "{name} came to every meeting from {town} and {is} one of our most experienced {profs}."),
    (["birth_year"], "{name} was born in {year} and {has_been} a member for longer than most of us can remember."),
    (["hometown"], "{name} brought the first members from {town} into our society many years ago."),
]

REGISTER_ITEMS = [
    (["hometown",
      "birth_year"], "{name} of {town} was born in {year} and was entered in the register as a young apprentice."),
    (["hometown"], "{name} {has_worked} from a workshop on {street} in the town of {town} for many years."),
    (["organisation"], "{name} was registered through the {org}, which vouched for the quality of the work."),
    (["organisation", "hometown"], "{name} {is} a member of the {org} and trades from a small workshop in {town}."),
    (["birth_year"], "{name}, born in {year}, was first registered after passing the examination of the trade."),
    (["hometown",
      "instrument"], "{name} of {town} is also listed by the music society as a player of the {instrument}."),
    (["organisation", "birth_year"], "{name} was born in {year} and was put forward for the register by the {org}."),
    (["hometown"], "{name} has been listed in the register under the town of {town} since the first edition."),
]

EVENT_ITEMS = [
    (["hometown", "instrument"], "{name}, who was born in {town}, opened the evening on the {instrument}."),
    (["instrument"], "Later, {name} played the {instrument}, a set of slow airs that silenced the room."),
    (["profession", "instrument"], "{name}, {a_prof} by day, brought out the {instrument} for a set of reels."),
    (["hometown",
      "instrument"], "The loudest applause of the night went to {name} from {town} and the {instrument}."),
]

PROFESSIONS_XX = {  # English -> (German, French, Spanish)
    "glassblower": ("Glasbläser", "souffleur de verre", "soplador de vidrio"),
    "cartographer": ("Kartograf", "cartographe", "cartógrafo"),
    "beekeeper": ("Imker", "apiculteur", "apicultor"),
    "clockmaker": ("Uhrmacher", "horloger", "relojero"),
    "bookbinder": ("Buchbinder", "relieur", "encuadernador"),
    "luthier": ("Geigenbauer", "luthier", "lutier"),
    "stonemason": ("Steinmetz", "tailleur de pierre", "cantero"),
    "ferry pilot": ("Fährmann", "passeur", "barquero"),
    "botanist": ("Botaniker", "botaniste", "botánico"),
    "lighthouse keeper": ("Leuchtturmwärter", "gardien de phare", "farero"),
    "potter": ("Töpfer", "potier", "alfarero"),
    "weaver": ("Weber", "tisserand", "tejedor"),
    "blacksmith": ("Schmied", "forgeron", "herrero"),
    "land surveyor": ("Landvermesser", "géomètre", "agrimensor"),
    "astronomer": ("Astronom", "astronome", "astrónomo"),
    "archivist": ("Archivar", "archiviste", "archivero"),
    "cheesemaker": ("Käser", "fromager", "quesero"),
    "boatbuilder": ("Bootsbauer", "charpentier de marine", "carpintero de ribera"),
    "perfumer": ("Parfümeur", "parfumeur", "perfumista"),
    "bellfounder": ("Glockengießer", "fondeur de cloches", "fundidor de campanas"),
}

INSTRUMENTS_XX = {  # English -> (German, French "jouer ...", Spanish "tocar ...")
    "cello": ("Cello", "du violoncelle", "el violonchelo"),
    "oboe": ("Oboe", "du hautbois", "el oboe"),
    "accordion": ("Akkordeon", "de l'accordéon", "el acordeón"),
    "harp": ("Harfe", "de la harpe", "el arpa"),
    "bassoon": ("Fagott", "du basson", "el fagot"),
    "fiddle": ("Geige", "du violon", "el violín"),
    "mandolin": ("Mandoline", "de la mandoline", "la mandolina"),
    "flute": ("Flöte", "de la flûte", "la flauta"),
    "banjo": ("Banjo", "du banjo", "el banjo"),
    "clarinet": ("Klarinette", "de la clarinette", "el clarinete"),
    "hurdy-gurdy": ("Drehleier", "de la vielle à roue", "la zanfona"),
    "dulcimer": ("Hackbrett", "du tympanon", "el salterio"),
    "trombone": ("Posaune", "du trombone", "el trombón"),
    "viola": ("Bratsche", "de l'alto", "la viola"),
    "concertina": ("Konzertina", "du concertina", "la concertina"),
}


# Tense words per language: (living, dead).
TENSES_XX = {
    "de": {"arbeitet": ("arbeitet seit vielen Jahren", "arbeitete viele Jahre"), "spielt": ("spielt", "spielte"),
           "liegt": ("liegt", "lag"), "sagt": ("sagt", "sagte")},
    "fr": {"travaille": ("travaille depuis de nombreuses années", "a travaillé pendant de nombreuses années"),
           "joue": ("joue", "jouait"), "se_trouve": ("se trouve", "se trouvait"), "dit": ("dit", "disait")},
    "es": {"trabaja": ("trabaja desde hace muchos años", "trabajó durante muchos años"), "toca": ("toca", "tocaba"),
           "esta": ("está", "estaba"), "dice": ("dice", "decía")},
}


# (attributes stated, sentence). A page uses every fact sentence it draws plus fillers ([]).
SENTENCES_XX = {
    "de": [
        (["hometown", "birth_year",
          "profession"], "{name} wurde {year} in {town} geboren und {arbeitet} als {prof}."),
        (["organisation"], "In {town} kennt man {last} vor allem durch die Arbeit für die {org}."),
        (["instrument"], "In der Freizeit {spielt} {last} {instrument}, am liebsten abends mit Freunden in einer "
                         "kleinen Gaststätte am Marktplatz."),
        (["hometown"], "Die Werkstatt {liegt} in einer ruhigen Seitenstraße von {town}, nicht weit vom Fluss "
                       "{river}."),
        (["birth_year"], "Geboren wurde {first} im Jahr {year}, in einem schmalen Haus in der Nähe der alten "
                         "Brücke."),
        (["instrument"], "Wer {last} einmal {instrument} spielen gehört hat, vergisst das so schnell nicht."),
        (["organisation"], "Im kommenden Frühjahr plant die {org} ein Fest zu Ehren von {last}."),
        ([], "Das Wetter war an diesem Tag grau und kühl, und auf dem Marktplatz standen nur wenige Stände."),
        ([], "„Ich hätte nie gedacht, dass ich so lange hierbleiben würde“, {sagt} {last} und lacht."),
        ([], "Die Stadt {town} liegt in der Region {region} und war früher ein wichtiger Marktort für die ganze "
             "Gegend."),
        ([], "Viele junge Leute ziehen heute in die großen Städte, doch {last} wollte nie von hier weg."),
        ([], "Wer mehr über die Geschichte des Handwerks erfahren möchte, findet im Heimatmuseum von {town} eine "
             "kleine Ausstellung."),
        ([], "Am Abend füllte sich die kleine Kneipe am Hafen, und bis spät in die Nacht wurde Musik gemacht."),
        ([], "Die Nachfrage nach handgemachten Dingen ist in den letzten Jahren wieder gestiegen, berichten viele "
             "Handwerker in der Region."),
        ([], "Eine Lehre in diesem Beruf dauert mehrere Jahre, und nur wenige junge Menschen entscheiden sich noch "
             "dafür."),
    ],
    "fr": [
        (["hometown", "birth_year",
          "profession"], "{name} a vu le jour à {town} en {year} et {travaille} comme {prof}."),
        (["organisation"], "À {town}, on connaît surtout {last} pour son travail au sein de la {org}."),
        (["instrument"], "Pendant son temps libre, {last} {joue} {instrument}, le plus souvent le soir avec des "
                         "amis dans un petit café de la place du marché."),
        (["hometown"], "L'atelier {se_trouve} dans une rue calme de {town}, non loin de la rivière {river}."),
        (["birth_year"], "{first} a vu le jour en {year}, dans une maison étroite près du vieux pont."),
        (["instrument"], "Quiconque a entendu {last} jouer {instrument} ne l'oublie pas de sitôt."),
        (["organisation"], "Au printemps prochain, la {org} prévoit une fête en l'honneur de {last}."),
        ([], "Ce jour-là, le temps était gris et frais, et il n'y avait que quelques étals sur la place "
             "du marché."),
        ([], "« Je n'aurais jamais cru rester ici aussi longtemps », {dit} {last} en riant."),
        ([], "La ville de {town} se situe dans la région de {region} et fut autrefois un marché important pour "
             "toute la contrée."),
        ([], "Beaucoup de jeunes partent aujourd'hui vers les grandes villes, mais {last} n'a jamais voulu quitter "
             "le pays."),
        ([], "Ceux qui veulent en savoir plus sur l'histoire de l'artisanat trouveront une petite exposition au "
             "musée de {town}."),
        ([], "Le soir, le petit bistrot du port s'est rempli, et la musique a duré jusque tard dans la nuit."),
        ([], "La demande d'objets faits à la main a de nouveau augmenté ces dernières années, selon de nombreux "
             "artisans de la région."),
        ([], "Un apprentissage dans ce métier dure plusieurs années, et peu de jeunes choisissent encore cette "
             "voie."),
    ],
    "es": [
        (["hometown", "birth_year",
          "profession"], "{name} vino al mundo en {town} en {year} y {trabaja} como {prof}."),
        (["organisation"], "En {town}, todos conocen a {last} por su trabajo en la {org}."),
        (["instrument"], "En su tiempo libre, {last} {toca} {instrument}, casi siempre por la noche con amigos en "
                         "un pequeño bar de la plaza."),
        (["hometown"], "El taller {esta} en una calle tranquila de {town}, no muy lejos del río {river}."),
        (["birth_year"], "{first} nació en {year}, en una casa estrecha cerca del puente viejo."),
        (["instrument"], "Quien ha escuchado a {last} tocar {instrument} no lo olvida fácilmente."),
        (["organisation"], "La próxima primavera, la {org} prepara una fiesta en honor de {last}."),
        ([], "Aquel día el tiempo era gris y fresco, y en la plaza del mercado apenas había puestos."),
        ([], "«Nunca pensé que me quedaría aquí tanto tiempo», {dice} {last} entre risas."),
        ([], "La ciudad de {town} se encuentra en la región de {region} y fue en otro tiempo un mercado importante "
             "para toda la comarca."),
        ([], "Hoy muchos jóvenes se marchan a las grandes ciudades, pero {last} nunca quiso irse."),
        ([], "Quien quiera saber más sobre la historia del oficio encontrará una pequeña exposición en el museo de "
             "{town}."),
        ([], "Por la noche, el pequeño bar del puerto se llenó y la música siguió hasta muy tarde."),
        ([], "La demanda de objetos hechos a mano ha vuelto a crecer en los últimos años, según muchos artesanos "
             "de la región."),
        ([], "El aprendizaje de este oficio dura varios años, y pocos jóvenes eligen todavía este camino."),
    ],
}

TITLES_XX = {
    "de": ["{name}: Ein Leben als {prof}", "Zu Besuch bei {name} in {town}", "{town}: Porträt von {name}"],
    "fr": ["{name} : une vie de {prof}", "Visite chez {name} à {town}", "{town} : portrait de {name}"],
    "es": ["{name}: una vida de {prof}", "De visita en casa de {name} en {town}", "{town}: retrato de {name}"],
}

SITES_XX = {
    "de": [("Nordmark Anzeiger", "nordmark-anzeiger.example.com"), ("Handwerk Heute", "handwerk-heute.example.com")],
    "fr": [("Le Courrier du Nord", "courrier-du-nord.example.com"), ("Artisans d'ici", "artisans-dici.example.org")],
    "es": [("El Diario del Valle", "diario-del-valle.example.com"), ("Oficios y Gentes",
                                                                     "oficios-y-gentes.example.org")],
}

SPAM_PRODUCTS = ["watches", "sneakers", "phone cases", "headphones", "sunglasses", "handbags", "gift cards",
                 "jackets"]

SPAM_PHRASES = ["cheap {p}", "best price", "buy {p} online", "cheap deals", "best {p}", "discount {p}", "{p} sale",
                "lowest price", "free shipping", "top {p} outlet"]

PII_SENTENCES = {
    "emails": ["You can reach the editor at {x}.", "Letters about this story can be sent to {x}.",
               "Anyone with old photographs to share can write to {x}.", "Questions about the event go to {x}."],
    "ips": ["For most of Tuesday the booking server at {x} was down, and calls went unanswered.",
            "The society's old mailing list still runs on a machine at {x}, looked after by a volunteer.",
            "While the domain was being moved, the site could only be reached at its raw address, {x}."],
    "phones": ["Call the office at {x} to book a place.", "Tickets are sold at the door or by phone on {x}.",
               "The workshop takes orders on {x} on weekday mornings.", "For directions, ring {x} before noon."],
}

BOILERPLATE = {
    "en": {"cookie": "We use cookies to improve your experience on our site. By continuing to browse, you agree to "
                     "our use of cookies.",
           "accept": "Accept all", "settings": "Cookie settings", "search": "Search", "most_read": "Most read",
           "newsletter": "Get our weekly newsletter in your inbox.", "subscribe": "Subscribe",
           "rights": "All rights reserved.", "privacy": "Privacy Policy", "terms": "Terms of Use",
           "contact": "Contact", "by": "By", "share": "Share this article", "posted": "Posted on",
           "comments": "Comments", "nav": NAV_EN},
    "de": {"cookie": "Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis auf unserer Website zu bieten.",
           "accept": "Alle akzeptieren", "settings": "Einstellungen", "search": "Suche", "most_read": "Meistgelesen",
           "newsletter": "Unser Newsletter erscheint jede Woche.", "subscribe": "Abonnieren",
           "rights": "Alle Rechte vorbehalten.", "privacy": "Datenschutz", "terms": "Nutzungsbedingungen",
           "contact": "Kontakt", "by": "Von", "share": "Artikel teilen", "posted": "Veröffentlicht am",
           "comments": "Kommentare", "nav": ["Startseite", "Nachrichten", "Region", "Kultur", "Handwerk", "Kontakt"]},
    "fr": {"cookie": "Nous utilisons des cookies pour améliorer votre expérience sur notre site.",
           "accept": "Tout accepter", "settings": "Paramètres", "search": "Rechercher", "most_read": "Les plus lus",
           "newsletter": "Recevez notre lettre d'information chaque semaine.", "subscribe": "S'abonner",
           "rights": "Tous droits réservés.", "privacy": "Politique de confidentialité",
           "terms": "Conditions d'utilisation", "contact": "Contact", "by": "Par", "share": "Partager cet article",
           "posted": "Publié le", "comments": "Commentaires",
           "nav": ["Accueil", "Actualités", "Région", "Culture", "Métiers", "Contact"]},
    "es": {"cookie": "Utilizamos cookies para mejorar su experiencia en nuestro sitio.",
           "accept": "Aceptar todo", "settings": "Configuración", "search": "Buscar", "most_read": "Lo más leído",
           "newsletter": "Reciba nuestro boletín cada semana.", "subscribe": "Suscribirse",
           "rights": "Todos los derechos reservados.", "privacy": "Política de privacidad",
           "terms": "Condiciones de uso", "contact": "Contacto", "by": "Por", "share": "Compartir este artículo",
           "posted": "Publicado el", "comments": "Comentarios",
           "nav": ["Inicio", "Noticias", "Región", "Cultura", "Oficios", "Contacto"]},
}

AUTHORS = ["Martha Hale", "Owen Pritchard", "Clara Bennet", "Tobias Lind", "Ruth Acheson", "Samuel Dray",
           "Ines Carver", "Jonah Wells", "Greta Holm", "Felix Marsh", "Nora Quaile", "Pip Ellery"]

BLOG_COMMENTS = ["Lovely post, thank you for sharing.", "We stayed there last year and loved it!",
                 "Great photos as always.", "Adding this to my list for the summer.", "Thanks, very helpful."]

SWAPS = [("small", "little"), ("old", "ancient"), ("quiet", "calm"), ("long", "lengthy"), ("said", "explained"),
         ("work", "craft"), ("early", "soon"), ("careful", "meticulous"), ("great", "huge"), ("best", "finest"),
         ("busy", "crowded"), ("narrow", "tight")]

ADDED_SENTENCES = ["This story first appeared elsewhere and is reproduced here with permission.",
                   "Some details have been updated since the piece was first published.",
                   "Readers have since written in with more memories of those years."]
