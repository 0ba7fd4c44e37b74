"""Word lists for the rules planner: numbers, relation phrases, function words, nouns, plurals.

The noun list is a general vocabulary of everyday concrete things (it includes, but is not fitted to,
the 80 COCO classes); nouns outside it are still recognised by position in the sentence.
"""

from __future__ import annotations

NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1, "single": 1, "lone": 1,
    "solitary": 1, "dozen": 12, "both": 2, "twin": 2, "couple": 2, "pair": 2, "trio": 3, "several": 3,
    "few": 3, "some": 3, "many": 5, "multiple": 3, "numerous": 6, "various": 3,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1000000, "billion": 1000000000,
}
# number words that multiply the one before them ("two dozen", "one thousand", "three hundred")
BIG_NUMBERS: dict[str, int] = {"dozen": 12, "hundred": 100, "thousand": 1000, "million": 1000000,
                               "billion": 1000000000}
TENS = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
VAGUE_COUNTS = {"several", "few", "some", "many", "multiple", "numerous", "various"}
ORDINAL_SKIP = {"first", "second", "third", "other", "another"}

# multi-word quantity phrases -> count (matched before single words)
QUANTITY_PHRASES: dict[tuple[str, ...], int] = {
    ("a", "pair", "of"): 2, ("pair", "of"): 2, ("a", "couple", "of"): 2, ("couple", "of"): 2,
    ("a", "dozen"): 12, ("half", "a", "dozen"): 6, ("a", "few"): 3, ("a", "trio", "of"): 3,
    ("a", "single"): 1, ("just", "one"): 1, ("only", "one"): 1, ("a", "lone"): 1, ("a", "group", "of"): 3,
    ("a", "bunch", "of"): 3, ("a", "set", "of"): 3, ("a", "handful", "of"): 3,
    ("a", "hundred"): 100, ("a", "thousand"): 1000, ("a", "million"): 1000000, ("a", "billion"): 1000000000,
    ("dozens", "of"): 24, ("hundreds", "of"): 200, ("thousands", "of"): 2000, ("millions", "of"): 2000000,
}
VAGUE_QUANTITIES = {("a", "few"): "a few", ("dozens", "of"): "dozens of", ("hundreds", "of"): "hundreds of",
                    ("thousands", "of"): "thousands of", ("millions", "of"): "millions of"}

# Arrangements: how a group is laid out; they shape the layout and never become entities.
# After a mention ("five apples in a row") or before it ("a row of five apples").
ARRANGEMENT_PHRASES: dict[tuple[str, ...], str] = {}
for _arr, _phrases in {
    "row": ("in a row", "in one row", "in a line", "in a straight line", "in one line", "lined up", "in a row side by side",
            "side by side", "next to each other", "beside each other", "next to one another", "in a horizontal line",
            "arranged in a row", "arranged in a line", "standing in a row", "all in a row", "in single file"),
    "circle": ("in a circle", "in a ring", "arranged in a circle", "arranged in a ring", "forming a circle",
               "forming a ring", "in a round", "around in a circle", "in a circular arrangement"),
    "stack": ("stacked", "stacked up", "stacked on top of each other", "stacked on each other", "on top of each other",
              "on top of one another", "stacked on top of one another", "stacked vertically", "piled up",
              "piled on top of each other", "in a stack", "in a pile", "stacked one on another", "one on top of another",
              "one on top of the other", "piled", "in a tower"),
    "scatter": ("scattered", "scattered around", "scattered about", "scattered across", "scattered everywhere",
                "scattered all over", "spread out", "spread around", "strewn", "strewn about", "dotted around",
                "randomly placed", "placed randomly", "here and there", "all over", "everywhere", "around",
                "scattered over", "scattered in", "scattered on", "spread across", "spread over"),
    "column": ("in a column", "one above the other", "one above another", "in a vertical line", "stacked in a column"),
}.items():
    for _p in _phrases:
        ARRANGEMENT_PHRASES[tuple(_p.split())] = _arr
# "a row of five apples", "a circle of hearts", "a stack of books"
ARRANGEMENT_PREFIXES: dict[tuple[str, ...], str] = {
    tuple(p.split()): a for p, a in {
        "a row of": "row", "a line of": "row", "a circle of": "circle", "a ring of": "circle",
        "a stack of": "stack", "a pile of": "stack", "a tower of": "stack", "a column of": "column",
        "rows of": "row", "a scattering of": "scatter",
    }.items()}
# "from left to right: a, b, c" -> each next one is <pred> the one before
ORDER_PHRASES: dict[tuple[str, ...], str] = {
    tuple(p.split()): pred for p, pred in {
        "from left to right": "right_of", "left to right": "right_of", "from right to left": "left_of",
        "right to left": "left_of", "from top to bottom": "below", "top to bottom": "below",
        "from bottom to top": "above", "bottom to top": "above", "from the left": "right_of",
    }.items()}
del ORDER_PHRASES[("from", "the", "left")]
# "one red and one blue", "the left one ...": words that pick instances of a group
INSTANCE_POSITIONS = {"left": "left", "right": "right", "top": "top", "bottom": "bottom", "upper": "top",
                      "lower": "bottom", "middle": "middle", "center": "middle", "centre": "middle",
                      "first": "first", "second": "second", "third": "third", "fourth": "fourth", "last": "last",
                      "leftmost": "left", "rightmost": "right", "topmost": "top", "front": "front", "back": "back"}
INSTANCE_REST = {"rest", "others", "other", "remaining", "remainder"}
# "one high and one low", "one big and one small": per-instance placement or size words
INSTANCE_PLACES = {"high": "top", "low": "bottom", "up": "top", "down": "bottom", "higher": "top", "lower": "bottom",
                   "above": "top", "below": "bottom", "left": "left", "right": "right"}
COVER_PHRASES: dict[tuple[str, ...], str] = {tuple(p.split()): "covering" for p in (
    "covering half of", "covering half", "covers half of", "covers half", "covering part of", "covers part of",
    "partly covering", "partially covering", "partly covers", "partially covers", "half covering", "covering",
    "covers", "overlapping", "overlaps", "partly hiding", "partially hiding", "hiding half of", "hiding part of",
    "in front of half of", "half in front of", "blocking half of", "blocking part of", "covering most of",
)}
EXACT_WORDS = {"exactly", "precisely", "just", "only"}

# relation phrases -> predicate (longest match first). "X <phrase> Y" means X predicate Y.
RELATION_PHRASES: dict[tuple[str, ...], str] = {}


def _rel(pred: str, *phrases: str) -> None:
    for p in phrases:
        RELATION_PHRASES[tuple(p.split())] = pred


_rel("left_of", "to the left of", "on the left of", "on the left side of", "to the left side of", "left of",
     "at the left of", "at the left side of", "on the lefthand side of", "on the left-hand side of",
     "to the left-hand side of", "left side of", "is left of", "positioned left of", "placed left of",
     "located left of", "located to the left of", "further left than", "more to the left than")
_rel("right_of", "to the right of", "on the right of", "on the right side of", "to the right side of",
     "right of", "at the right of", "at the right side of", "on the righthand side of",
     "on the right-hand side of", "to the right-hand side of", "right side of", "positioned right of",
     "placed right of", "located right of", "located to the right of", "further right than",
     "more to the right than")
_rel("above", "above", "over", "higher than", "up above", "floating above", "hovering over", "hovering above",
     "flying over", "flying above", "on top", "high above", "directly above", "just above")
_rel("on", "on top of", "on", "upon", "atop", "sitting on", "standing on", "resting on", "lying on",
     "placed on", "perched on", "on the top of")
_rel("below", "below", "beneath", "lower than", "down below", "directly below", "just below",
     "underneath", "at the bottom of", "further down than")
_rel("under", "under", "underneath the", "beneath the")
_rel("next_to", "next to", "beside", "besides", "alongside", "by", "by the side of", "adjacent to",
     "side by side with", "together with")
_rel("near", "near", "close to", "near to", "nearby")
_rel("behind", "behind", "in back of", "at the back of")
_rel("in_front_of", "in front of", "before")
_rel("in", "in", "inside", "inside of", "within", "into")
_rel("between", "between", "in between", "in the middle of", "amid", "among")
del RELATION_PHRASES[("underneath", "the")]
del RELATION_PHRASES[("beneath", "the")]
RELATION_PHRASES[("underneath",)] = "under"

# an inverted phrasing: "to the left of B is A" is handled by the parser; these say which way round.
INVERSE = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above",
           "on": "under", "under": "on", "behind": "in_front_of", "in_front_of": "behind"}

# text introducers (what follows is a string to letter exactly)
TEXT_INTRODUCERS: list[tuple[str, ...]] = [tuple(p.split()) for p in (
    "that says", "which says", "saying", "says", "that reads", "which reads", "reading", "reads",
    "with the text", "with the words", "with the word", "with text", "with the letters", "with the phrase",
    "with the message", "labeled", "labelled", "that is labeled", "with the label", "written", "printed",
    "that spells", "spelling", "with the name", "the word", "the words", "the text", "the letters",
    "inscribed", "showing the text", "displaying", "that displays", "with the caption", "captioned",
    "showing", "that shows", "which shows", "bearing", "with the slogan", "announcing", "that announces",
    "that say", "which say", "that read", "which read",  # plural carriers: "two signs that say OPEN"
)]
# introducers that also have an ordinary meaning ("a photo showing a cat"): text only after a text carrier
WEAK_TEXT_INTRODUCERS: set[tuple[str, ...]] = {tuple(p.split()) for p in (
    "showing", "that shows", "which shows", "displaying", "that displays", "bearing", "written", "printed",
    "reads", "says", "announcing", "that announces", "the word", "the words", "the text", "the letters",
)}
TEXT_CARRIER_NOUNS = {"sign", "signpost", "placard", "banner", "flag", "poster", "billboard", "label", "tag",
                      "plaque", "board", "chalkboard", "blackboard", "whiteboard", "screen", "t-shirt", "shirt",
                      "book", "cover", "card", "menu", "sticker", "badge", "note", "letter", "envelope", "cake",
                      "mug", "cup", "box", "door", "wall", "storefront", "marquee", "scoreboard", "signboard"}

NEGATORS: list[tuple[str, ...]] = [tuple(p.split()) for p in (
    "without any", "without a", "without an", "without", "with no", "but no", "and no", "no", "not a",
    "not any", "free of", "devoid of", "lacking", "excluding", "except for", "minus", "zero",
)]

# words that carry no entity: fillers, frames, verbs, auxiliaries
FRAME_PHRASES: list[tuple[str, ...]] = [tuple(p.split()) for p in (
    "a photo of", "a photograph of", "an image of", "a picture of", "a drawing of", "an illustration of",
    "a painting of", "a render of", "a rendering of", "a sketch of", "a scene of", "a scene with",
    "a view of", "a close-up of", "a closeup of", "a cartoon of", "a poster of", "an icon of",
    "there is", "there are", "there's", "there should be", "i want", "please draw", "draw", "show",
    "show me", "generate", "create", "make", "paint", "render", "depict", "an artwork of", "a shot of",
    "a snapshot of", "count them", "count", "look", "behold", "see", "a peaceful scene", "a quiet scene",
    "a busy scene", "a simple scene", "a scene", "place", "put", "add", "include", "imagine", "design", "illustrate", "give me",
    "i need", "i'd like", "can you draw", "could you draw", "please", "i want to see", "i'd like to see",
    "i would like to see", "i want to draw", "i'd like to draw", "let me see", "let's see", "we see", "you see",
    "i see", "no more and no less", "no more , no less", "no more no less", "no more or less", "not more and not less", "photo of", "image of", "picture of", "drawing of", "illustration of",
)]
# "a simple illustration of", "a quick sketch of", ...: a frame with an adjective
FRAME_PHRASES += [(art, adj, noun, "of") for art in ("a", "an") for adj in (
    "simple", "quick", "detailed", "little", "nice", "cute", "colorful", "colourful", "minimal", "clean", "small",
    "beautiful", "plain", "basic", "rough", "realistic", "stylized", "stylised") for noun in (
    "illustration", "drawing", "picture", "sketch", "painting", "image", "photo", "photograph", "scene", "render",
    "cartoon", "view", "rendering")]
FILLER_WORDS = {
    "anywhere", "anyplace", "nowhere", "somewhere", "up", "the", "is", "are", "was", "were", "be", "being", "that", "which", "who", "it", "its", "their", "them",
    "they", "sits", "sit", "sitting", "stands", "stand", "standing", "lies", "lying", "rests", "resting",
    "placed", "positioned", "located", "parked", "floating", "floats", "flying", "flies", "swimming", "swims",
    "hanging", "hangs", "growing", "grows", "shining", "shines", "drifting", "drifts", "perched", "set",
    "seen", "visible", "appears", "appear", "shown", "just", "also", "both", "each", "every", "all", "of",
    "here", "there", "nothing", "else", "only", "exactly", "precisely", "total", "in total", "altogether",
    "depicted", "drawn", "painted", "pictured", "featuring", "features", "showing", "shows", "has", "have",
    "having", "containing", "contains", "holding", "holds", "some", "very", "quite", "really", "same",
    "together", "please", "me", "for", "as", "well", "while", "whilst", "where", "when", "to", "at", "from",
    "one's", "so", "too", "this", "these", "those", "such", "image", "photo", "picture", "scene", "view",
}
CONJUNCTIONS = {"and", "plus", "with", "&", "alongside", "as well as", ",", ";", "then", "also", "while", "but"}

# adjectives that are not colors or sizes (kept as attributes, never nouns)
MATERIALS = {"wooden", "wood", "metal", "metallic", "glass", "plastic", "paper", "stone", "golden", "silver",
             "ceramic", "leather", "woolen", "rubber", "steel", "iron", "brick", "marble", "cardboard",
             "fabric", "crystal", "concrete", "velvet", "cotton", "copper", "bronze", "clay", "ice"}
ADJECTIVES = {
    "cute", "old", "new", "shiny", "happy", "sad", "fluffy", "round", "square-shaped", "tall", "short", "long",
    "wide", "narrow", "bright", "dark", "light", "pale", "vivid", "striped", "spotted", "dotted", "plain",
    "fancy", "simple", "modern", "ancient", "vintage", "young", "baby", "little", "pretty", "beautiful",
    "ugly", "hot", "cold", "wet", "dry", "fresh", "ripe", "rotten", "empty", "full", "open", "closed",
    "broken", "clean", "dirty", "soft", "hard", "heavy", "glowing", "sleeping", "running", "smiling",
    "angry", "friendly", "wild", "toy", "cartoon", "realistic", "detailed", "colorful", "colourful", "lonely",
    "lovely", "nice", "sleepy", "fat", "thin", "fast", "slow", "red-roofed", "lit", "other", "another",
    "identical", "similar", "different", "separate", "distinct", "whole", "half", "sliced", "juicy", "sunny", "calm",
}
COLOR_MODIFIERS = {"light", "dark", "pale", "bright", "deep", "vivid", "pastel", "neon", "navy", "sky",
                   "royal", "lime", "forest", "hot", "baby", "olive", "dusty", "ruby", "emerald", "fire"}
EXTRA_COLOR_WORDS = {"navy": "blue", "crimson": "red", "scarlet": "red", "maroon": "red", "turquoise": "blue",
                     "cyan": "blue", "teal": "green", "lime": "green", "olive": "green", "magenta": "pink",
                     "lavender": "purple", "beige": "brown", "tan": "brown", "silver": "gray", "ivory": "white",
                     "cream": "white", "amber": "orange", "indigo": "blue", "charcoal": "black",
                     "reddish": "red", "bluish": "blue", "greenish": "green", "yellowish": "yellow"}

STYLE_PHRASES: dict[tuple[str, ...], str] = {tuple(k.split()): v for k, v in {
    "watercolor": "watercolor", "watercolour": "watercolor", "pixel art": "pixel art", "sketch": "sketch",
    "pencil sketch": "sketch", "cartoon": "cartoon", "cartoon style": "cartoon", "oil painting": "oil painting",
    "3d render": "3d render", "3d": "3d render", "minimalist": "minimalist", "minimal": "minimalist",
    "line art": "line art", "flat": "flat", "flat design": "flat", "vintage": "vintage", "retro": "vintage",
    "photorealistic": "photo", "realistic": "photo", "photograph": "photo",
    # styles the world lacks, read as the nearest it has (the trace says so)
    "anime": "cartoon", "manga": "cartoon", "comic": "cartoon", "comic book": "cartoon", "disney": "cartoon",
    "impressionist": "oil painting", "impressionism": "oil painting", "acrylic": "oil painting",
    "acrylic painting": "oil painting", "gouache": "watercolor", "pastel": "watercolor", "ink wash": "watercolor",
    "crayon": "sketch", "pencil": "sketch", "charcoal": "sketch", "pencil drawing": "sketch",
    "charcoal drawing": "sketch", "ink": "line art", "ink drawing": "line art", "outline": "line art",
    "low poly": "3d render", "claymation": "3d render", "isometric": "3d render", "8-bit": "pixel art",
    "8 bit": "pixel art", "16-bit": "pixel art", "retro game": "pixel art", "art deco": "vintage",
    "sepia": "vintage", "polaroid": "photo", "cinematic": "photo", "vector": "flat", "flat vector": "flat",
}.items()}
# colour words with no single world colour ("rainbow-colored"): the colour drawn instead
MULTI_COLOR_WORDS = {"rainbow": "red", "multicolored": "red", "multicoloured": "red", "multi": "red",
                     "colourful": "red", "iridescent": "purple", "neon": "pink"}

LIGHT_PHRASES: dict[tuple[str, ...], str] = {tuple(k.split()): v for k, v in {
    "lit from the left": "left", "light from the left": "left", "lit from the right": "right",
    "light from the right": "right", "lit from above": "top", "light from above": "top",
    "lit from the top": "top", "sunlight from the left": "left", "sunlight from the right": "right",
    "no shadows": "none", "without shadows": "none", "flat lighting": "none",
}.items()}

# Everyday concrete nouns (singular). Multi-word ones are matched first, longest first.
NOUNS: set[str] = set("""
person man woman boy girl child baby people king queen knight wizard robot astronaut chef doctor teacher
dog cat cow horse sheep goat pig chicken duck goose bird eagle owl parrot penguin swan pigeon crow
elephant giraffe zebra lion tiger bear panda monkey gorilla fox wolf deer moose rabbit bunny mouse rat
squirrel hamster frog turtle tortoise snake lizard crocodile dinosaur dragon unicorn fish shark whale
dolphin octopus crab lobster jellyfish starfish seahorse butterfly bee ant spider ladybug snail worm
camel kangaroo koala hippo rhino bat hedgehog raccoon otter seal walrus flamingo peacock ostrich
airplane plane helicopter rocket car truck bus train bicycle bike motorcycle scooter boat ship sailboat
submarine tractor van taxi ambulance tram skateboard surfboard snowboard ski kite balloon drone canoe
kayak yacht cart wagon sled
apple banana orange lemon lime pear peach cherry grape strawberry watermelon melon pineapple mango
coconut carrot broccoli tomato potato onion corn pepper cucumber mushroom pumpkin lettuce avocado
sandwich pizza donut doughnut cake cupcake cookie bread croissant burger hamburger sausage egg cheese
pie muffin pancake waffle taco burrito sushi noodle candy lollipop chocolate icecream popsicle
cup mug glass bottle bowl plate fork knife spoon chopstick pot pan kettle teapot jar vase bucket basket
box bag backpack handbag purse suitcase wallet umbrella hat cap helmet crown shoe boot sock glove scarf
tie shirt dress jacket coat skirt sweater belt ring necklace watch clock lamp candle lantern
book notebook pen pencil crayon brush paintbrush scissors ruler envelope letter newspaper magazine map
chair table desk bed couch sofa bench stool shelf bookshelf cabinet drawer door window mirror rug
carpet pillow blanket curtain toilet sink bathtub shower refrigerator fridge oven microwave toaster
stove dishwasher tv television computer laptop keyboard monitor phone telephone radio camera speaker
headphone guitar piano violin drum trumpet flute microphone
ball football basketball baseball frisbee racket bat glove toy doll teddy puzzle dice kite trophy medal
tree flower plant bush cactus leaf rose tulip sunflower daisy mushroom grass rock stone mountain hill
volcano island cloud sun moon star rainbow planet comet snowman snowflake fire campfire
house home building castle tower church barn tent hut cabin skyscraper bridge lighthouse windmill
fountain fence gate wall road street sign signpost billboard poster banner flag statue pyramid
mailbox hydrant bench streetlight
heart circle square triangle rectangle diamond hexagon pentagon oval cube sphere cone cylinder
key lock coin gem diamond crown sword shield bow arrow axe hammer wrench screwdriver shovel ladder
robot ghost alien monster skull
toothbrush toothpaste remote comb towel soap broom mop sponge hairbrush razor perfume lipstick tissue
""".split())

MULTIWORD_NOUNS: set[str] = {
    "teddy bear", "fire hydrant", "hot dog", "cell phone", "mobile phone", "wine glass", "traffic light",
    "stop sign", "tv remote", "remote control", "dining table", "coffee table", "potted plant",
    "parking meter", "hair drier", "hair dryer", "computer mouse", "computer keyboard", "baseball bat",
    "baseball glove", "tennis racket", "tennis ball", "sports ball", "soccer ball", "beach ball",
    "ice cream", "hot air balloon", "fire truck", "police car", "school bus", "race car", "sports car",
    "street lamp", "street light", "light bulb", "paper plane", "christmas tree", "palm tree", "pine tree",
    "water bottle", "coffee cup", "coffee mug", "tea cup", "picture frame", "alarm clock", "washing machine",
    "polar bear", "sea turtle", "goldfish", "birthday cake", "french fries", "sail boat",
    "rubber duck", "space shuttle", "traffic cone", "shopping cart", "wind turbine", "cowboy hat",
    "top hat", "guinea pig", "ladybird", "gift box", "treasure chest", "question mark", "light house",
    "road sign", "street sign", "neon sign", "shop sign", "dog house", "tree house", "bird house",
}

# irregular plural -> singular
IRREGULAR_PLURALS: dict[str, str] = {
    "mice": "mouse", "geese": "goose", "men": "man", "women": "woman", "children": "child", "teeth": "tooth",
    "feet": "foot", "people": "person", "persons": "person", "oxen": "ox", "knives": "knife", "wives": "wife",
    "leaves": "leaf", "loaves": "loaf", "wolves": "wolf", "shelves": "shelf", "calves": "calf",
    "halves": "half", "lives": "life", "scarves": "scarf", "thieves": "thief", "elves": "elf",
    "cacti": "cactus", "fungi": "fungus", "dice": "die", "cookies": "cookie", "movies": "movie",
    "ties": "tie", "pies": "pie", "buses": "bus", "gases": "gas", "lenses": "lens", "octopi": "octopus",
    "octopuses": "octopus", "platypuses": "platypus", "volcanoes": "volcano", "potatoes": "potato",
    "tomatoes": "tomato", "heroes": "hero", "mangoes": "mango", "dominoes": "domino", "echoes": "echo",
    "skis": "ski", "dwarves": "dwarf", "hooves": "hoof", "indices": "index", "matrices": "matrix",
    "bunnies": "bunny", "puppies": "puppy", "kitties": "kitty", "geezers": "geezer", "moose": "moose",
    "sheep": "sheep", "fish": "fish", "deer": "deer", "salmon": "salmon", "trout": "trout", "series": "series",
    "species": "species", "aircraft": "aircraft", "bison": "bison", "shrimp": "shrimp", "squid": "squid",
    "swine": "swine", "scissors": "scissors", "glasses": "glass", "pants": "pants", "jeans": "jeans",
    "headphones": "headphone", "binoculars": "binoculars", "clothes": "clothes", "news": "news",
    "chess": "chess", "bus": "bus", "gas": "gas", "lens": "lens", "cactus": "cactus", "octopus": "octopus",
    "glass": "glass", "dress": "dress", "grass": "grass", "compass": "compass", "walrus": "walrus",
    "hippopotamus": "hippopotamus", "platypus": "platypus", "iris": "iris", "canvas": "canvas",
    "tennis": "tennis", "bass": "bass", "cross": "cross", "boss": "boss", "moss": "moss", "mattress": "mattress",
    "princess": "princess", "octopusses": "octopus", "hydrant": "hydrant", "toothbrushes": "toothbrush",
    "hair driers": "hair drier", "hair dryers": "hair dryer",
}
SINGULAR_S_WORDS = {"bus", "gas", "lens", "cactus", "octopus", "glass", "dress", "grass", "compass", "walrus",
                    "hippopotamus", "platypus", "iris", "canvas", "tennis", "bass", "cross", "boss", "moss",
                    "mattress", "princess", "news", "chess", "scissors", "pants", "jeans", "binoculars",
                    "clothes", "series", "species", "physics", "christmas", "this", "his", "its", "is", "was",
                    "has", "as", "us", "yes", "plus", "minus", "bonus", "circus", "virus", "campus", "atlas",
                    "lotus", "citrus", "hummus", "asparagus", "analysis", "hibiscus", "pegasus", "tiramisu",
                    "always", "perhaps", "across", "less", "unless", "ferris", "paris", "texas", "kiss"}

RELATION_PHRASES.update(COVER_PHRASES)
