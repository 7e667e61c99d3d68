"""Parsing and normalising historical Paris addresses."""

from __future__ import annotations

import html
import re

import pytest

from jadis.geocode.normalize import normalize, street_name
from jadis.geocode.parse import parse_address

# A sample of hand-checked trade-directory entries (tagged text, directory), from the DAS 2022 NER
# gold set: N. Abadie, E. Carlinet, J. Chazalon, B. Duménieu, "A Benchmark of Named Entity Recognition
# Approaches in Historical Documents", DAS 2022 (soduco/paper-ner-bench-das22), licence CC BY 4.0.
GOLD_SAMPLE = [
    ("<PER>Gautier</PER>, <ACT>h. garni de Sully</ACT>, <LOC>Convention</LOC>, <CARDINAL>6</CARDINAL>.", "Didot_1851a"),
    ("<PER>Collignon</PER>, <ACT>vannier</ACT>, <LOC>f. St Martin</LOC>, <CARDINAL>66</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Petit</PER>, <ACT>épic.</ACT> <LOC>Temple</LOC>, <CARDINAL>97</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Petit</PER>, <ACT>épic.</ACT> <LOC>Chaussée d&apos;Antin</LOC>, <CARDINAL>59</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Duflot</PER>, <ACT>loueur de carrosses</ACT>, <LOC>r. de Paradis- Poissonnière</LOC>, "
     "<CARDINAL>22</CARDINAL>. 505", "Bottin1_1820"),
    ("<PER>Daninos</PER>, <ACT>princip. avec l&apos;Italie, plumes d&apos;autruche, etc.</ACT>, "
     "<LOC>r. Basse-d&apos;Orléans</LOC>, <CARDINAL>18</CARDINAL>.", "Bottin1_1827"),
    ("<PER>Petit</PER>, <ACT>herb.</ACT> <LOC>St André des Arts</LOC>, <CARDINAL>8</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Duſour et Besnard</PER>, <ACT>march. de bois à brûler</ACT>,<LOC> quai de la Tournelle</LOC>, "
     "<CARDINAL>17</CARDINAL>. et <LOC>r. des Fossés- S.-Bernard</LOC>, <CARDINAL>11</CARDINAL>. 291", "Bottin1_1820"),
    ("<PER>Cattaert (Thes) ainé</PER>, <ACT>f. bronzes et cristaux</ACT>, <LOC>faub. St- Denis</LOC>, "
     "<CARDINAL>45</CARDINAL>.", "Bottin1_1837"),
    ("<PER>Collin (Ch. Etien.)</PER>, <ACT>topog.</ACT> <LOC>impasse des Feuillantines</LOC>, "
     "<CARDINAL>10</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Petit</PER>, <ACT>imp. lith.</ACT> <LOC>Bourgogne</LOC>, <CARDINAL>25</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Dufour</PER>, <ACT>corroyeur</ACT>, <LOC>r. des Vertus</LOC>, <CARDINAL>11</CARDINAL>. 327", "Bottin1_1820"),
    ("<PER>Gautron, dit Grassot</PER>, <ACT>boulanger</ACT>, <LOC>Orléans-St- Marcel</LOC>, "
     "<CARDINAL>23</CARDINAL>.", "Didot_1851a"),
    ("<PER>Petit (Franc)</PER>, <ACT>maconn.</ACT>, <LOC>Recollets</LOC>, <CARDINAL>8</CARDINAL>.", "Cambon_almgene_1841"),
    ("<PER>Gauvain fils</PER>, <ACT>cordonnier</ACT>, <LOC>Faub.- St- Martin</LOC>,<CARDINAL> 87</CARDINAL>.",
     "Didot_1851a"),
    ("<PER>Collin</PER>. <ACT>rec. de rent.</ACT> <LOC>J.J. Rousseau</LOC>, <CARDINAL>15</CARDINAL>.",
     "Cambon_almgene_1841"),
    ("<PER>Dufour</PER>, <ACT>march. de vins</ACT>, <LOC>r. des Fosses-S- Germain-l&apos;Auxerrois</LOC>, "
     "<CARDINAL>31</CARDINAL>. 498", "Bottin1_1820"),
    ("<PER>Gavard</PER>, <ACT>teinturier-dégraisseur</ACT>, <LOC>Paradis-Pois- sonnière</LOC>, "
     "<CARDINAL>2</CARDINAL>.", "Didot_1851a"),
    ("<PER>Delaroque</PER> <TITRE></TITRE>, <ACT>médecin</ACT>, <LOC>Cité-Bergère</LOC>, <CARDINAL>6</CARDINAL>.",
     "Bottin1_1837"),
    ("<PER>Delatour</PER>, <ACT>bains</ACT>, <LOC>Fg-Poissonnière</LOC>, <CARDINAL>28</CARDINAL>.", "Bottin1_1837"),
    ("<PER>Pestre dit Lamy</PER>, <LOC>rue Roch</LOC> , n.° <CARDINAL>111</CARDINAL>,—<LOC>de la "
     "Butte-des-Moulins</LOC>.", "Favre_et_Duchesne_1798"),
    ("<PER>Grele</PER> , <LOC>R. de Bourgogne</LOC> , <CARDINAL>1471</CARDINAL>. <LOC>Invalides</LOC>.",
     "Duverneuil_et_La_Tynna_1801"),
    ("<PER>Brac</PER>, <LOC>rue d&apos;Amboise</LOC>, n. <CARDINAL>369</CARDINAL>, —de Pelletier.",
     "Favre_et_Duchesne_1798"),
    ("<PER>Chomel</PER>, <LOC>Louis-Philippe</LOC>, <CARDINAL>28 bis</CARDINAL>.", "Didot_1841a"),
    ("<PER>Lauze</PER>, <LOC>place de la Bastille</LOC>.", "Bottin1_1820"),
    ("<PER>Banque de France</PER>, <LOC>La Vrillère</LOC>.", "Bottin1_1827"),
]


def _gold(tagged: str) -> tuple[str, str, str | None]:
    loc = re.search(r"<LOC>(.*?)</LOC>", tagged)
    after = tagged[loc.end():]
    nxt = after.find("<LOC>")
    card = re.search(r"<CARDINAL>(.*?)</CARDINAL>", after if nxt < 0 else after[:nxt])
    number = None
    if card:
        m = re.search(r"(\d+)\s*(bis|ter)?", card.group(1))
        number = m.group(1) + (m.group(2) or "")
    plain = html.unescape(re.sub(r"</?[A-Z]+>", "", tagged))
    return plain, html.unescape(loc.group(1)), number


@pytest.mark.parametrize(("text", "street", "number", "suffix"), [
    ("12 rue de la Harpe", "rue de la Harpe", 12, ""),
    ("12 bis, rue de la Harpe", "rue de la Harpe", 12, "bis"),
    ("12ter rue de la Harpe, Paris", "rue de la Harpe", 12, "ter"),
    ("rue de la Harpe, n° 12", "rue de la Harpe", 12, ""),
    ("Dupont, tailleur, r. S.-Honoré, 123", "r. S.-Honoré", 123, ""),
    ("Petitpas, herb. Grenétat, 3.", "Grenétat", 3, ""),
    ("Leduc, fournit., r. St-Denis, 120, près la cour Batave.", "r. St-Denis", 120, ""),
    ("Millet. cartonnier. r. au Maire. 36. 306", "r. au Maire", 36, ""),
    ("Vignes, ferblantier, 4 Vents, 13.", "4 Vents", 13, ""),
    ("12 BD DIDEROT", "BD DIDEROT", 12, ""),
    ("Lebrun (Jacques) (miniature), rue de la Loi, no. 748.", "rue de la Loi", 748, ""),
    ("rue du 29 Juillet, 12", "rue du 29 Juillet", 12, ""),
])
def test_parse_street_and_number(text, street, number, suffix):
    p = parse_address(text)
    assert p.street == street
    assert p.number == number
    assert p.suffix == suffix


def test_parse_range_and_house_text():
    p = parse_address("12-14 rue Saint-Antoine")
    assert (p.number, p.number_to, p.house) == (12, 14, "12-14")
    assert parse_address("rue X, 7 et 9").number_to == 9


def test_parse_qualifiers_and_several_addresses():
    p = parse_address("Martin (H.), fab. étoffes, pl. Vendôme, 1, au coin de la r. St-Honoré.")
    assert (p.street, p.number, p.cross_street) == ("pl. Vendôme", 1, "r. St-Honoré")
    p = parse_address("Dufay, libraire, r. Montmartre, 82, passage du Saumon, 38. 392")
    assert p.street == "r. Montmartre" and p.number == 82
    assert [(a.street, a.number) for a in p.others] == [("passage du Saumon", 38)]
    p = parse_address("au coin de la rue Saint-Denis et de la rue aux Ours")
    assert p.street == "rue Saint-Denis" and p.cross_street == "rue aux Ours"
    assert parse_address("r. S.-Honoré, près l'Oratoire").near == "Oratoire"


def test_parse_prefers_an_address_over_medal_years():
    p = parse_address("Chanvière (Alex.) et Rougier, Ⓐ S. H. 1840-45, Roquette, 152.")
    assert (p.street, p.number) == ("Roquette", 152)


def test_parse_without_number_or_street():
    assert parse_address("Lauze, place de la Bastille.").street == "place de la Bastille"
    assert parse_address("Quincampoix").street == "Quincampoix"
    assert parse_address("").street is None
    assert parse_address(",,, 12").street is None


def test_parse_matches_most_of_the_gold_sample():
    streets = numbers = 0
    for tagged, _ in GOLD_SAMPLE:
        plain, gold_street, gold_number = _gold(tagged)
        p = parse_address(plain)
        streets += normalize(p.street or "") == normalize(gold_street) or (
            street_name(p.street or "").core == street_name(gold_street).core)
        numbers += (f"{p.number}{p.suffix}" if p.number is not None else None) == gold_number
    assert streets >= 0.9 * len(GOLD_SAMPLE)
    assert numbers >= 0.95 * len(GOLD_SAMPLE)


@pytest.mark.parametrize(("a", "b"), [
    ("r. S.-Honoré", "Rue Saint Honoré"),
    ("R ST-HONORE", "rue saint-honore"),
    ("faub. St Denis", "Faubourg Saint-Denis"),
    ("r. du Faub.-S. Denis", "Rue du Faubourg Saint-Denis"),
    ("Cul-de-sac de la Forge", "Impasse de la Forge"),
    ("Boulevart des Gobelins", "BD DES GOBELINS"),
    ("Quay des Célestins", "QU DES CELESTINS"),
    ("r. des Fossés- S.-Bernard", "Rue des Fossés Saint-Bernard"),
    ("Nve-Ste-Croix", "Neuve Sainte Croix"),
])
def test_normalize_spellings_of_one_street(a, b):
    sa, sb = street_name(a), street_name(b)
    assert sa.core == sb.core
    assert sa.type == sb.type or None in (sa.type, sb.type)


def test_normalize_keeps_types_and_abbreviations_apart():
    assert street_name("Petite Rue de Reuilly").type == "petite rue"
    assert street_name("Impasse de Reuilly").key != street_name("Rue de Reuilly").key
    mauv = street_name("Mauv. Paroles")
    assert mauv.core == "mauv paroles" and 0 in mauv.prefixes
    assert street_name("Rue Lenoir Saint-Antoine").without_qualifier().core == "lenoir"
    assert street_name("Rue du Faubourg Saint-Antoine").without_qualifier() is None
    assert street_name("Cour").core == "cour"
