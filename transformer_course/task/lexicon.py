"""The sentence task's lexicon: English words and what German needs to know of them.

Nouns carry their gender and plural (their case forms follow from them, see :func:`noun_form`);
verbs their present-tense forms, past participle, auxiliary (haben/sein), separable prefix
and the case of their object; adjectives their stem; pronouns and possessives their forms in
each case; prepositions the case they govern. Each English word has one German translation,
so a sentence has exactly one right answer.

Checked in the tests against independent data: every noun's gender and plural against
Wiktionary (the ``german-nouns`` package), every verb's present forms, participle and
auxiliary against the ``ablaut`` conjugator.

What is left out on purpose: weak masculine nouns (der Junge, den Jungen), which take an
ending in every case but the nominative; the genitive; nouns whose English plural equals
the singular (sheep, fish), which would make a sentence ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass

CASES = ("nom", "acc", "dat")
GENDERS = ("m", "f", "n")


# --------------------------------------------------------------------------
# Nouns
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Noun:
    """A noun: English singular and plural, German nominative singular, gender and nominative plural."""

    en: str
    en_plural: str
    de: str
    gender: str          # "m", "f" or "n"
    de_plural: str
    kind: str            # "person", "animal", "thing" or "place"


def _nouns(kind: str, table: str) -> list[Noun]:
    """Rows 'en en_plural de gender de_plural' -> Nouns of one kind."""
    rows = [line.split() for line in table.strip().splitlines()]
    return [Noun(en, en_pl, de, g, de_pl, kind) for en, en_pl, de, g, de_pl in rows]


NOUNS: list[Noun] = _nouns("person", """
man men Mann m Männer
woman women Frau f Frauen
child children Kind n Kinder
girl girls Mädchen n Mädchen
father fathers Vater m Väter
mother mothers Mutter f Mütter
brother brothers Bruder m Brüder
sister sisters Schwester f Schwestern
son sons Sohn m Söhne
daughter daughters Tochter f Töchter
friend friends Freund m Freunde
teacher teachers Lehrer m Lehrer
doctor doctors Arzt m Ärzte
baker bakers Bäcker m Bäcker
chef chefs Koch m Köche
king kings König m Könige
queen queens Königin f Königinnen
uncle uncles Onkel m Onkel
aunt aunts Tante f Tanten
grandmother grandmothers Großmutter f Großmütter
grandfather grandfathers Großvater m Großväter
baby babies Baby n Babys
guest guests Gast m Gäste
thief thieves Dieb m Diebe
driver drivers Fahrer m Fahrer
singer singers Sänger m Sänger
painter painters Maler m Maler
pupil pupils Schüler m Schüler
waiter waiters Kellner m Kellner
boss bosses Chef m Chefs
worker workers Arbeiter m Arbeiter
dancer dancers Tänzer m Tänzer
player players Spieler m Spieler
hunter hunters Jäger m Jäger
writer writers Schriftsteller m Schriftsteller
nurse nurses Krankenschwester f Krankenschwestern
lady ladies Dame f Damen
""") + _nouns("animal", """
dog dogs Hund m Hunde
cat cats Katze f Katzen
horse horses Pferd n Pferde
cow cows Kuh f Kühe
pig pigs Schwein n Schweine
bird birds Vogel m Vögel
mouse mice Maus f Mäuse
duck ducks Ente f Enten
goose geese Gans f Gänse
chicken chickens Huhn n Hühner
rabbit rabbits Kaninchen n Kaninchen
wolf wolves Wolf m Wölfe
fox foxes Fuchs m Füchse
frog frogs Frosch m Frösche
snake snakes Schlange f Schlangen
spider spiders Spinne f Spinnen
bee bees Biene f Bienen
goat goats Ziege f Ziegen
donkey donkeys Esel m Esel
camel camels Kamel n Kamele
tiger tigers Tiger m Tiger
owl owls Eule f Eulen
whale whales Wal m Wale
worm worms Wurm m Würmer
crow crows Krähe f Krähen
turtle turtles Schildkröte f Schildkröten
dolphin dolphins Delfin m Delfine
rat rats Ratte f Ratten
squirrel squirrels Eichhörnchen n Eichhörnchen
butterfly butterflies Schmetterling m Schmetterlinge
""") + _nouns("thing", """
table tables Tisch m Tische
chair chairs Stuhl m Stühle
bed beds Bett n Betten
book books Buch n Bücher
ball balls Ball m Bälle
car cars Auto n Autos
door doors Tür f Türen
window windows Fenster n Fenster
lamp lamps Lampe f Lampen
cup cups Tasse f Tassen
glass glasses Glas n Gläser
bottle bottles Flasche f Flaschen
plate plates Teller m Teller
spoon spoons Löffel m Löffel
knife knives Messer n Messer
fork forks Gabel f Gabeln
key keys Schlüssel m Schlüssel
letter letters Brief m Briefe
picture pictures Bild n Bilder
apple apples Apfel m Äpfel
egg eggs Ei n Eier
cake cakes Kuchen m Kuchen
bread breads Brot n Brote
box boxes Kiste f Kisten
bag bags Tasche f Taschen
hat hats Hut m Hüte
shoe shoes Schuh m Schuhe
coat coats Mantel m Mäntel
dress dresses Kleid n Kleider
shirt shirts Hemd n Hemden
clock clocks Uhr f Uhren
phone phones Telefon n Telefone
computer computers Computer m Computer
pen pens Stift m Stifte
flower flowers Blume f Blumen
tree trees Baum m Bäume
stone stones Stein m Steine
bicycle bicycles Fahrrad n Fahrräder
boat boats Boot n Boote
ship ships Schiff n Schiffe
train trains Zug m Züge
bus buses Bus m Busse
ticket tickets Fahrkarte f Fahrkarten
newspaper newspapers Zeitung f Zeitungen
song songs Lied n Lieder
toy toys Spielzeug n Spielzeuge
banana bananas Banane f Bananen
pear pears Birne f Birnen
carrot carrots Karotte f Karotten
sausage sausages Wurst f Würste
bone bones Knochen m Knochen
cookie cookies Keks m Kekse
candle candles Kerze f Kerzen
mirror mirrors Spiegel m Spiegel
pillow pillows Kissen n Kissen
blanket blankets Decke f Decken
basket baskets Korb m Körbe
pot pots Topf m Töpfe
ring rings Ring m Ringe
umbrella umbrellas Regenschirm m Regenschirme
map maps Karte f Karten
present presents Geschenk n Geschenke
pencil pencils Bleistift m Bleistifte
notebook notebooks Heft n Hefte
sofa sofas Sofa n Sofas
carpet carpets Teppich m Teppiche
shelf shelves Regal n Regale
fridge fridges Kühlschrank m Kühlschränke
oven ovens Ofen m Öfen
cupboard cupboards Schrank m Schränke
""") + _nouns("place", """
garden gardens Garten m Gärten
house houses Haus n Häuser
kitchen kitchens Küche f Küchen
room rooms Zimmer n Zimmer
school schools Schule f Schulen
park parks Park m Parks
street streets Straße f Straßen
city cities Stadt f Städte
village villages Dorf n Dörfer
forest forests Wald m Wälder
river rivers Fluss m Flüsse
field fields Feld n Felder
bridge bridges Brücke f Brücken
church churches Kirche f Kirchen
shop shops Laden m Läden
station stations Bahnhof m Bahnhöfe
hotel hotels Hotel n Hotels
restaurant restaurants Restaurant n Restaurants
office offices Büro n Büros
hospital hospitals Krankenhaus n Krankenhäuser
castle castles Schloss n Schlösser
tower towers Turm m Türme
mountain mountains Berg m Berge
island islands Insel f Inseln
beach beaches Strand m Strände
market markets Markt m Märkte
library libraries Bibliothek f Bibliotheken
museum museums Museum n Museen
cinema cinemas Kino n Kinos
farm farms Bauernhof m Bauernhöfe
hall halls Halle f Hallen
cellar cellars Keller m Keller
meadow meadows Wiese f Wiesen
harbour harbours Hafen m Häfen
airport airports Flughafen m Flughäfen
square squares Platz m Plätze
""")

NOUN_BY_EN = {n.en: n for n in NOUNS}


def noun_form(noun: Noun, case: str, plural: bool) -> str:
    """The German noun in a case and number: the singular is the same in nom/acc/dat (no weak nouns here);
    the dative plural adds -n unless the plural ends in -n or -s (den Hunden, den Autos, den Frauen)."""
    if not plural:
        return noun.de
    if case == "dat" and not noun.de_plural.endswith(("n", "s")):
        return noun.de_plural + "n"
    return noun.de_plural


# --------------------------------------------------------------------------
# Determiners and adjectives: their endings by case, gender (or plural) and kind of article
# --------------------------------------------------------------------------

# the definite article
DEFINITE = {
    "nom": {"m": "der", "f": "die", "n": "das", "pl": "die"},
    "acc": {"m": "den", "f": "die", "n": "das", "pl": "die"},
    "dat": {"m": "dem", "f": "der", "n": "dem", "pl": "den"},
}
# the endings of ein, kein and the possessives (mein, dein, sein, ihr, unser): "ein" + "en" = "einen"
EIN_ENDINGS = {
    "nom": {"m": "", "f": "e", "n": "", "pl": "e"},
    "acc": {"m": "en", "f": "e", "n": "", "pl": "e"},
    "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
}
# adjective endings after the definite article (weak), after an ein-word (mixed), after nothing (strong)
ADJECTIVE_ENDINGS = {
    "weak": {
        "nom": {"m": "e", "f": "e", "n": "e", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "e", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "mixed": {
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "en"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "en"},
        "dat": {"m": "en", "f": "en", "n": "en", "pl": "en"},
    },
    "strong": {  # used here only in the plural (no article, or a number): "kleine Hunde", "mit kleinen Hunden"
        "nom": {"m": "er", "f": "e", "n": "es", "pl": "e"},
        "acc": {"m": "en", "f": "e", "n": "es", "pl": "e"},
        "dat": {"m": "em", "f": "er", "n": "em", "pl": "en"},
    },
}
# English possessive -> German stem (declined like ein)
POSSESSIVES = {"my": "mein", "your": "dein", "his": "sein", "her": "ihr", "our": "unser", "their": "ihr"}


@dataclass(frozen=True)
class Adjective:
    """An adjective: English word, German stem (predicative form)."""

    en: str
    de: str

    def attributive(self, ending: str) -> str:
        """The German form before a noun: stem + ending ("leise" + "en" = "leisen", not "leiseen")."""
        if not ending:
            return self.de
        return (self.de.removesuffix("e")) + ending


ADJECTIVES: list[Adjective] = [Adjective(en, de) for en, de in (line.split() for line in """
small klein
big groß
old alt
young jung
new neu
beautiful schön
good gut
fast schnell
slow langsam
red rot
blue blau
green grün
black schwarz
white weiß
brown braun
yellow gelb
warm warm
cold kalt
short kurz
loud laut
quiet leise
tired müde
clever klug
stupid dumm
rich reich
poor arm
strong stark
weak schwach
empty leer
full voll
bright hell
nice nett
friendly freundlich
happy glücklich
sad traurig
cheap billig
clean sauber
dirty schmutzig
fresh frisch
sweet süß
hungry hungrig
wild wild
famous berühmt
""".strip().splitlines())]


# --------------------------------------------------------------------------
# Verbs
# --------------------------------------------------------------------------

PERSONS = ("1sg", "2sg", "3sg", "1pl", "2pl", "3pl")


@dataclass(frozen=True)
class Verb:
    """A verb: English forms, German present forms, participle, auxiliary, separable prefix, object case.

    ``obj`` is what the verb takes besides its subject: "" (nothing), "acc", "dat" (helfen: dem Hund),
    or "dat+acc" (geben: dem Kind einen Ball). ``present`` holds the six forms of the *stem* verb
    (ich, du, er/sie/es, wir, ihr, sie) without the separable prefix: "rufe" for "anrufen".
    """

    en: str               # English base form: "see", "call", "pick up"
    en_3sg: str           # "sees", "calls", "picks up"
    en_participle: str    # "seen", "called", "picked up"
    de: str               # German infinitive: "sehen", "anrufen"
    present: tuple[str, ...]
    participle: str       # "gesehen", "angerufen"
    auxiliary: str        # "haben" or "sein"
    prefix: str           # "" or the separable prefix: "an"
    obj: str
    motion: bool = False  # goes somewhere: takes "into the house", "to the school"

    def finite(self, person: str) -> str:
        """The present form for a person, without the prefix (the main clause splits it off)."""
        return self.present[PERSONS.index(person)]

    def joined(self, person: str) -> str:
        """The present form with the prefix in front, as at the end of a subordinate clause: "anruft"."""
        return self.prefix + self.finite(person)


def _regular_present(infinitive: str) -> list[str]:
    """The six present forms of a regular verb: "machen" -> macht, "arbeiten" -> arbeitest, "tanzen" -> tanzt."""
    stem = infinitive[:-1] if infinitive.endswith(("ern", "eln")) else infinitive[:-2]
    e = "e" if stem.endswith(("t", "d", "chn", "ffn", "gn", "tm", "dm")) else ""  # du arbeitest, er öffnet
    du = stem + ("t" if stem.endswith(("s", "ß", "z", "x")) else e + "st")
    return [stem + "e", du, stem + e + "t", infinitive, stem + e + "t", infinitive]


def _verb(en: str, en_3sg: str, en_participle: str, de: str, participle: str, auxiliary: str, obj: str,
          prefix: str = "", du: str = "", er: str = "", motion: bool = False) -> Verb:
    """A verb from its regular forms, with the 2sg and 3sg given where the stem changes (du schläfst, er schläft)."""
    present = _regular_present(de[len(prefix):])
    if du:
        present[1] = du
    if er:
        present[2] = er
    return Verb(en, en_3sg, en_participle, de, tuple(present), participle, auxiliary, prefix, obj, motion)


VERBS: list[Verb] = [
    # transitive: an accusative object
    _verb("see", "sees", "seen", "sehen", "gesehen", "haben", "acc", du="siehst", er="sieht"),
    _verb("buy", "buys", "bought", "kaufen", "gekauft", "haben", "acc"),
    _verb("find", "finds", "found", "finden", "gefunden", "haben", "acc"),
    _verb("love", "loves", "loved", "lieben", "geliebt", "haben", "acc"),
    _verb("need", "needs", "needed", "brauchen", "gebraucht", "haben", "acc"),
    _verb("hear", "hears", "heard", "hören", "gehört", "haben", "acc"),
    _verb("visit", "visits", "visited", "besuchen", "besucht", "haben", "acc"),
    _verb("draw", "draws", "drawn", "zeichnen", "gezeichnet", "haben", "acc"),
    _verb("paint", "paints", "painted", "malen", "gemalt", "haben", "acc"),
    _verb("wash", "washes", "washed", "waschen", "gewaschen", "haben", "acc", du="wäschst", er="wäscht"),
    _verb("eat", "eats", "eaten", "essen", "gegessen", "haben", "acc", du="isst", er="isst"),
    _verb("read", "reads", "read", "lesen", "gelesen", "haben", "acc", du="liest", er="liest"),
    _verb("write", "writes", "written", "schreiben", "geschrieben", "haben", "acc"),
    _verb("carry", "carries", "carried", "tragen", "getragen", "haben", "acc", du="trägst", er="trägt"),
    _verb("hold", "holds", "held", "halten", "gehalten", "haben", "acc", du="hältst", er="hält"),
    _verb("catch", "catches", "caught", "fangen", "gefangen", "haben", "acc", du="fängst", er="fängt"),
    _verb("take", "takes", "taken", "nehmen", "genommen", "haben", "acc", du="nimmst", er="nimmt"),
    _verb("open", "opens", "opened", "öffnen", "geöffnet", "haben", "acc"),
    _verb("close", "closes", "closed", "schließen", "geschlossen", "haben", "acc"),
    _verb("know", "knows", "known", "kennen", "gekannt", "haben", "acc"),
    _verb("meet", "meets", "met", "treffen", "getroffen", "haben", "acc", du="triffst", er="trifft"),
    _verb("ask", "asks", "asked", "fragen", "gefragt", "haben", "acc"),
    _verb("cook", "cooks", "cooked", "kochen", "gekocht", "haben", "acc"),
    _verb("build", "builds", "built", "bauen", "gebaut", "haben", "acc"),
    _verb("sell", "sells", "sold", "verkaufen", "verkauft", "haben", "acc"),
    _verb("forget", "forgets", "forgotten", "vergessen", "vergessen", "haben", "acc", du="vergisst",
          er="vergisst"),
    _verb("understand", "understands", "understood", "verstehen", "verstanden", "haben", "acc"),
    _verb("feed", "feeds", "fed", "füttern", "gefüttert", "haben", "acc"),
    _verb("look for", "looks for", "looked for", "suchen", "gesucht", "haben", "acc"),
    _verb("use", "uses", "used", "benutzen", "benutzt", "haben", "acc"),
    _verb("show", "shows", "shown", "zeigen", "gezeigt", "haben", "dat+acc"),
    _verb("give", "gives", "given", "geben", "gegeben", "haben", "dat+acc", du="gibst", er="gibt"),
    _verb("bring", "brings", "brought", "bringen", "gebracht", "haben", "dat+acc"),
    _verb("send", "sends", "sent", "schicken", "geschickt", "haben", "dat+acc"),
    # a dative object
    _verb("help", "helps", "helped", "helfen", "geholfen", "haben", "dat", du="hilfst", er="hilft"),
    _verb("thank", "thanks", "thanked", "danken", "gedankt", "haben", "dat"),
    _verb("follow", "follows", "followed", "folgen", "gefolgt", "sein", "dat"),
    _verb("answer", "answers", "answered", "antworten", "geantwortet", "haben", "dat"),
    # no object
    _verb("sleep", "sleeps", "slept", "schlafen", "geschlafen", "haben", "", du="schläfst", er="schläft"),
    _verb("run", "runs", "run", "laufen", "gelaufen", "sein", "", du="läufst", er="läuft", motion=True),
    _verb("go", "goes", "gone", "gehen", "gegangen", "sein", "", motion=True),
    _verb("come", "comes", "come", "kommen", "gekommen", "sein", "", motion=True),
    _verb("swim", "swims", "swum", "schwimmen", "geschwommen", "sein", "", motion=True),
    _verb("fly", "flies", "flown", "fliegen", "geflogen", "sein", "", motion=True),
    _verb("drive", "drives", "driven", "fahren", "gefahren", "sein", "", du="fährst", er="fährt", motion=True),
    _verb("jump", "jumps", "jumped", "springen", "gesprungen", "sein", "", motion=True),
    _verb("play", "plays", "played", "spielen", "gespielt", "haben", ""),
    _verb("work", "works", "worked", "arbeiten", "gearbeitet", "haben", ""),
    _verb("wait", "waits", "waited", "warten", "gewartet", "haben", ""),
    _verb("laugh", "laughs", "laughed", "lachen", "gelacht", "haben", ""),
    _verb("cry", "cries", "cried", "weinen", "geweint", "haben", ""),
    _verb("sing", "sings", "sung", "singen", "gesungen", "haben", ""),
    _verb("dance", "dances", "danced", "tanzen", "getanzt", "haben", ""),
    _verb("live", "lives", "lived", "wohnen", "gewohnt", "haben", ""),
    _verb("stay", "stays", "stayed", "bleiben", "geblieben", "sein", ""),
    _verb("dream", "dreams", "dreamt", "träumen", "geträumt", "haben", ""),
    _verb("travel", "travels", "travelled", "reisen", "gereist", "sein", "", motion=True),
    # separable: the prefix goes to the end of a main clause ("er ruft seine Mutter an")
    _verb("call", "calls", "called", "anrufen", "angerufen", "haben", "acc", prefix="an"),
    _verb("invite", "invites", "invited", "einladen", "eingeladen", "haben", "acc", prefix="ein",
          du="lädst", er="lädt"),
    _verb("pick up", "picks up", "picked up", "abholen", "abgeholt", "haben", "acc", prefix="ab"),
    _verb("look at", "looks at", "looked at", "anschauen", "angeschaut", "haben", "acc", prefix="an"),
    _verb("tidy up", "tidies up", "tidied up", "aufräumen", "aufgeräumt", "haben", "acc", prefix="auf"),
    _verb("put on", "puts on", "put on", "anziehen", "angezogen", "haben", "acc", prefix="an"),
    _verb("turn off", "turns off", "turned off", "ausmachen", "ausgemacht", "haben", "acc", prefix="aus"),
    _verb("turn on", "turns on", "turned on", "anmachen", "angemacht", "haben", "acc", prefix="an"),
    _verb("throw away", "throws away", "thrown away", "wegwerfen", "weggeworfen", "haben", "acc", prefix="weg",
          du="wirfst", er="wirft"),
    _verb("get up", "gets up", "got up", "aufstehen", "aufgestanden", "sein", "", prefix="auf"),
    _verb("arrive", "arrives", "arrived", "ankommen", "angekommen", "sein", "", prefix="an"),
    _verb("fall asleep", "falls asleep", "fallen asleep", "einschlafen", "eingeschlafen", "sein", "",
          prefix="ein", du="schläfst", er="schläft"),
    _verb("come back", "comes back", "come back", "zurückkommen", "zurückgekommen", "sein", "",
          prefix="zurück"),
    _verb("wake up", "wakes up", "woken up", "aufwachen", "aufgewacht", "sein", "", prefix="auf"),
    _verb("go out", "goes out", "gone out", "ausgehen", "ausgegangen", "sein", "", prefix="aus"),
    _verb("come along", "comes along", "come along", "mitkommen", "mitgekommen", "sein", "", prefix="mit"),
]

# the auxiliaries and the verb of the main clause before "dass": irregular, written out
HABEN = ("habe", "hast", "hat", "haben", "habt", "haben")
SEIN = ("bin", "bist", "ist", "sind", "seid", "sind")
WISSEN = ("weiß", "weißt", "weiß", "wissen", "wisst", "wissen")
VERB_BY_EN = {v.en: v for v in VERBS}


# --------------------------------------------------------------------------
# Pronouns, prepositions, little words
# --------------------------------------------------------------------------

# personal pronouns: English (subject, object) -> German by case
PRONOUNS = {
    "1sg": (("I", "me"), {"nom": "ich", "acc": "mich", "dat": "mir"}),
    "2sg": (("you", "you"), {"nom": "du", "acc": "dich", "dat": "dir"}),
    "3sg m": (("he", "him"), {"nom": "er", "acc": "ihn", "dat": "ihm"}),
    "3sg f": (("she", "her"), {"nom": "sie", "acc": "sie", "dat": "ihr"}),
    "3sg n": (("it", "it"), {"nom": "es", "acc": "es", "dat": "ihm"}),
    "1pl": (("we", "us"), {"nom": "wir", "acc": "uns", "dat": "uns"}),
    "3pl": (("they", "them"), {"nom": "sie", "acc": "sie", "dat": "ihnen"}),
}


@dataclass(frozen=True)
class Preposition:
    """A preposition: English, German, the case it governs, what it is for, and its contractions with dem/das/der."""

    en: str
    de: str
    case: str
    use: str             # "place" (where), "goal" (where to: motion verbs only), "with" (any verb)
    contractions: tuple[tuple[str, str], ...] = ()   # (article, contracted): ("dem", "im")

    def with_article(self, article: str) -> list[str]:
        """'in' + 'dem' -> ['im']; 'mit' + 'dem' -> ['mit', 'dem']."""
        contracted = dict(self.contractions).get(article)
        return [contracted] if contracted else [self.de, article]


PREPOSITIONS: list[Preposition] = [
    Preposition("in", "in", "dat", "place", (("dem", "im"),)),
    Preposition("on", "auf", "dat", "place"),
    Preposition("under", "unter", "dat", "place"),
    Preposition("behind", "hinter", "dat", "place"),
    Preposition("next to", "neben", "dat", "place"),
    Preposition("in front of", "vor", "dat", "place"),
    Preposition("into", "in", "acc", "goal", (("das", "ins"),)),
    Preposition("onto", "auf", "acc", "goal"),
    Preposition("to", "zu", "dat", "goal", (("dem", "zum"), ("der", "zur"))),
    Preposition("with", "mit", "dat", "with"),
    Preposition("from", "von", "dat", "with", (("dem", "vom"),)),
    Preposition("for", "für", "acc", "with"),
    Preposition("without", "ohne", "acc", "with"),
    Preposition("against", "gegen", "acc", "with"),
]

# fronted adverbs (verb second): English -> German
ADVERBS = {"today": "heute", "tomorrow": "morgen", "now": "jetzt", "often": "oft", "sometimes": "manchmal",
           "here": "hier", "there": "dort", "usually": "meistens"}
# the words that start a subordinate clause, and the main clauses in front of "that"
CONJUNCTIONS = {"that": "dass", "because": "weil"}
QUESTION_WORDS = {"what": "was", "who": "wer", "where": "wo"}


def word_count() -> dict[str, int]:
    """How many words of each class the lexicon holds (numbers 2..12 come from the number task)."""
    return {"nouns": len(NOUNS), "verbs": len(VERBS), "adjectives": len(ADJECTIVES),
            "pronouns": len(PRONOUNS), "possessives": len(POSSESSIVES), "prepositions": len(PREPOSITIONS),
            "adverbs": len(ADVERBS), "conjunctions": len(CONJUNCTIONS), "question words": len(QUESTION_WORDS),
            "numbers": 11}
