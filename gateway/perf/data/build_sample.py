"""Regenerate squad_sample.json from the paragraphs below (answer offsets computed, never typed).

The sample is written for this project (licence: same as the repository) in the
SQuAD v1.1 format, so `nox -s eval` runs offline where the real validation set
cannot be downloaded.
"""

import json
from pathlib import Path

PARAGRAPHS = [
    (
        "Lighthouses",
        "The Bell Rock Lighthouse stands off the coast of Angus in Scotland. It was completed in 1810 "
        "by the engineer Robert Stevenson, who worked from plans first sketched by John Rennie. Built on a reef that "
        "is submerged at high tide, it is the oldest surviving sea-washed lighthouse in the world. Its light was "
        "automated in 1988, and the last keepers left the rock that year.",
        [
            ("When was the Bell Rock Lighthouse completed?", ["1810"]),
            ("Which engineer completed the Bell Rock Lighthouse?", ["Robert Stevenson"]),
            ("Whose plans were first sketched for the lighthouse?", ["John Rennie"]),
            ("When was the light automated?", ["1988", "in 1988"]),
            ("Off the coast of which area does the lighthouse stand?", ["Angus", "Angus in Scotland"]),
        ],
    ),
    (
        "Honey bees",
        "A honey bee colony has a single queen, several hundred drones and tens of thousands of "
        "workers. Workers are sterile females; they clean the hive, feed larvae, build comb from wax and forage for "
        "nectar and pollen. Foragers tell nest mates where food is through the waggle dance, whose angle encodes "
        "direction relative to the sun and whose duration encodes distance. Karl von Frisch shared the 1973 Nobel "
        "Prize for decoding it.",
        [
            ("How many queens does a colony have?", ["a single queen", "single"]),
            ("What do workers build comb from?", ["wax"]),
            ("What dance tells nest mates where food is?", ["the waggle dance", "waggle dance"]),
            ("What does the duration of the dance encode?", ["distance"]),
            ("Who shared the 1973 Nobel Prize for decoding the dance?", ["Karl von Frisch"]),
        ],
    ),
    (
        "Sourdough",
        "Sourdough bread is leavened by a starter, a culture of wild yeasts and lactic acid bacteria "
        "kept alive by regular feeding with flour and water. The bacteria produce lactic and acetic acids, which "
        "give the bread its sour taste and help it keep longer. A typical dough ferments for eight to twelve hours, "
        "far longer than dough raised with baker's yeast.",
        [
            ("What leavens sourdough bread?", ["a starter", "starter"]),
            ("Which acids do the bacteria produce?", ["lactic and acetic acids"]),
            ("How long does a typical sourdough ferment?", ["eight to twelve hours"]),
            ("What is the starter fed with?", ["flour and water"]),
        ],
    ),
    (
        "The Danube",
        "The Danube is Europe's second-longest river after the Volga. It rises in the Black Forest "
        "in Germany and flows about 2,850 kilometres to the Black Sea, passing through four capital cities: "
        "Vienna, Bratislava, Budapest and Belgrade. Its delta, in Romania and Ukraine, is a UNESCO World Heritage "
        "Site and one of the largest wetlands in Europe.",
        [
            ("Which river is longer than the Danube in Europe?", ["the Volga", "Volga"]),
            (
                "Where does the Danube rise?",
                ["the Black Forest", "in the Black Forest in Germany", "Black Forest"],
            ),
            ("How long is the Danube?", ["about 2,850 kilometres", "2,850 kilometres"]),
            ("Into which sea does the Danube flow?", ["the Black Sea", "Black Sea"]),
            ("How many capital cities does the Danube pass through?", ["four"]),
        ],
    ),
    (
        "Penicillin",
        "Alexander Fleming noticed in 1928 that a mould, Penicillium notatum, had killed the bacteria "
        "around it on a culture plate he had left at St Mary's Hospital in London. Purifying the active substance "
        "proved hard, and it was Howard Florey and Ernst Chain who turned penicillin into a usable drug in 1940. "
        "The three men shared the Nobel Prize in Physiology or Medicine in 1945.",
        [
            ("In which year did Fleming notice the mould?", ["1928"]),
            ("What was the name of the mould?", ["Penicillium notatum"]),
            ("At which hospital did Fleming work?", ["St Mary's Hospital", "St Mary's Hospital in London"]),
            ("Who turned penicillin into a usable drug?", ["Howard Florey and Ernst Chain"]),
            ("When did the three men share the Nobel Prize?", ["1945", "in 1945"]),
        ],
    ),
    (
        "Container shipping",
        "The shipping container was standardised in the 1960s after Malcom McLean showed in "
        "1956 that loading sealed boxes straight from trucks onto ships cut handling costs dramatically. Capacity "
        "is counted in twenty-foot equivalent units, or TEU. The largest ships now carry more than 24,000 TEU, and "
        "the port of Shanghai handles more containers than any other port.",
        [
            ("Who showed in 1956 that containers cut costs?", ["Malcom McLean"]),
            ("In which decade was the container standardised?", ["the 1960s", "1960s"]),
            ("What unit is container capacity counted in?", ["twenty-foot equivalent units", "TEU"]),
            ("How many TEU do the largest ships carry?", ["more than 24,000 TEU", "more than 24,000"]),
            ("Which port handles the most containers?", ["Shanghai", "the port of Shanghai"]),
        ],
    ),
    (
        "Volcanoes",
        "Mount Etna, on the east coast of Sicily, is the highest active volcano in Europe outside the "
        "Caucasus, standing about 3,350 metres tall. It is among the most active volcanoes in the world and has "
        "erupted frequently for at least half a million years. Its fertile slopes support vineyards and orchards, "
        "and the city of Catania lies at its foot.",
        [
            ("On which island is Mount Etna?", ["Sicily"]),
            ("How tall is Mount Etna?", ["about 3,350 metres", "3,350 metres"]),
            (
                "For how long has Etna erupted frequently?",
                ["at least half a million years", "half a million years"],
            ),
            ("Which city lies at the foot of Etna?", ["Catania"]),
        ],
    ),
    (
        "Chess clocks",
        "A chess clock has two linked timers, and pressing a button on one side stops it and starts "
        "the other. Mechanical clocks with a small red flag that falls when time runs out were used for most of "
        "the twentieth century. Digital clocks made increments possible, in which a player gains a few seconds "
        "after every move; the method was patented by Bobby Fischer in 1988.",
        [
            ("How many timers does a chess clock have?", ["two"]),
            ("What falls on a mechanical clock when time runs out?", ["a small red flag", "small red flag"]),
            ("What did digital clocks make possible?", ["increments"]),
            ("Who patented the increment method?", ["Bobby Fischer"]),
            ("In which year was the increment method patented?", ["1988"]),
        ],
    ),
    (
        "Tea",
        "Tea is made from the leaves of Camellia sinensis, an evergreen shrub native to East Asia. Green, "
        "oolong and black teas differ mainly in how far the leaves are oxidised before drying: green tea hardly at "
        "all, black tea fully. After water, tea is the most widely consumed drink in the world, and China is its "
        "largest producer.",
        [
            ("From which plant is tea made?", ["Camellia sinensis"]),
            (
                "How do green, oolong and black teas mainly differ?",
                ["in how far the leaves are oxidised before drying", "how far the leaves are oxidised"],
            ),
            ("Which tea is fully oxidised?", ["black tea", "black"]),
            ("Which country is the largest producer of tea?", ["China"]),
        ],
    ),
    (
        "The Rosetta Stone",
        "The Rosetta Stone is a granodiorite stele inscribed in 196 BC with a decree issued "
        "at Memphis on behalf of King Ptolemy V. The same text appears in three scripts: hieroglyphic, Demotic and "
        "ancient Greek. Found by French soldiers in 1799, it has been in the British Museum since 1802, and "
        "Jean-Francois Champollion announced his decipherment of the hieroglyphs in 1822.",
        [
            ("What is the Rosetta Stone made of?", ["granodiorite"]),
            ("On behalf of which king was the decree issued?", ["King Ptolemy V", "Ptolemy V"]),
            ("In how many scripts does the text appear?", ["three"]),
            ("Since when has the stone been in the British Museum?", ["1802", "since 1802"]),
            (
                "Who announced the decipherment of the hieroglyphs?",
                ["Jean-Francois Champollion", "Champollion"],
            ),
        ],
    ),
]


def build() -> dict:
    data = []
    for p_index, (title, context, questions) in enumerate(PARAGRAPHS):
        qas = []
        for q_index, (question, answers) in enumerate(questions):
            spans = []
            for text in answers:
                start = context.find(text)
                if start < 0:
                    raise ValueError(f"{title}: answer {text!r} is not in the context")
                spans.append({"text": text, "answer_start": start})
            qas.append({"id": f"gw-{p_index:02d}-{q_index:02d}", "question": question, "answers": spans})
        data.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    return {
        "version": "1.1",
        "licence": "Written for this project; same licence as the repository.",
        "data": data,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("squad_sample.json")
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
    n = sum(len(p["qas"]) for a in build()["data"] for p in a["paragraphs"])
    print(f"wrote {out} with {n} questions")
