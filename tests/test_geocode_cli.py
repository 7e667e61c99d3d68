"""`jadis geocode` on the bundled gazetteers: one address, CSV in, CSV / GeoPackage out, bad input."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))  # only the bundled gazetteers


def _one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert err.startswith("jadis: error:") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_single_address(run_cli):
    code, out, err = run_cli("geocode", "12 rue de Charonne", "--year", "1836")
    assert code == 0, err
    fields = dict(line.split(None, 1) for line in out.strip().splitlines() if len(line.split(None, 1)) == 2)
    assert fields["match_type"] == "address_point"
    assert 2.35 < float(fields["lon"]) < 2.40 and 48.84 < float(fields["lat"]) < 48.86
    assert "known address point" in fields["explanation"]


def test_single_address_not_found(run_cli):
    code, out, err = run_cli("geocode", "12 rue qui n'existe pas", "--year", "1836")
    assert code == 0, err
    assert "match_type     none" in out and "no street matching" in out


def test_csv_to_csv_and_gpkg(run_cli, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id;adresse;annee\n"
                   "1;Dupont, tailleur, faub. S.-Antoine, 123;1836\n"
                   "2;12 rue de Charonne;1836\n"
                   "3;rue qui n'existe pas du tout;1836\n"
                   "4;40 r. de Reuilly;1810\n", encoding="utf-8")
    out_csv = tmp_path / "out.csv"
    code, _, err = run_cli("geocode", str(src), "--year-column", "annee", "-o", str(out_csv))
    assert code == 0, err
    assert "geocoded 4 addresses" in err
    df = pd.read_csv(out_csv)
    assert list(df.columns[:3]) == ["id", "adresse", "annee"]
    for col in ("lon", "lat", "x", "y", "match_type", "score", "matched_name", "gazetteer", "uncertainty_m",
                "explanation"):
        assert col in df.columns
    assert list(df["match_type"])[2] == "none" and pd.isna(df["x"].iloc[2])
    assert (df["match_type"] != "none").sum() == 3
    out_gpkg = tmp_path / "out.gpkg"
    code, _, err = run_cli("geocode", str(src), "--year", "1836", "--address-column", "adresse", "-o", str(out_gpkg))
    assert code == 0, err
    gdf = pyogrio.read_dataframe(out_gpkg)
    assert len(gdf) == 4 and gdf.crs.to_epsg() == 2154
    assert gdf.geometry.isna().sum() == 1


def test_number_column_and_gazetteer_choice(run_cli, tmp_path):
    src = tmp_path / "split.csv"
    src.write_text("rue,num\nRue de Charonne,12\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, _, err = run_cli("geocode", str(src), "--year", "1836", "--address-column", "rue", "--number-column", "num",
                           "--gazetteer", "jacoubet_1836_fsa", "-o", str(out))
    assert code == 0, err
    row = pd.read_csv(out).iloc[0]
    assert row["match_type"] == "interpolated" and row["gazetteer"] == "jacoubet_1836_fsa"


def test_ragged_csv_is_refused(run_cli, tmp_path):
    # modelled on all_bankers_failed_geocoding.csv: unquoted commas inside a value
    src = tmp_path / "bankers.csv"
    src.write_text("gid,raw,years\n"
                   "1,Balensi (E) et Cie  banque. Grammont  15.,1871\n"
                   "2,Reiter et Cie  operations, emissions, Chaussee-dAntin  55.,1877\n", encoding="utf-8")
    code, _, err = run_cli("geocode", str(src), "--year", "1877", "--address-column", "raw", "-o",
                           str(tmp_path / "o.csv"))
    _one_line_error(code, err)
    assert "row 3 has 5 fields" in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(("content", "args", "message"), [
    ("adresse\n12 rue de Charonne\n".encode("latin-1") + "rue é\n".encode("latin-1"), ["--year", "1836"],
     "not valid utf-8"),
    (b"a,b\n1,2\n", ["--year", "1836"], "which column holds the addresses"),
    (b"adresse\n12 rue X\n", [], "--year"),
    (b"adresse\n12 rue X\n", ["--year", "1836", "--address-column", "nope"], "no column 'nope'"),
    (b"adresse\n12 rue X\n", ["--year", "1836", "--year-column", "annee"], "no column 'annee'"),
    (b"", ["--year", "1836"], "empty file"),
    (b"adresse;annee\n", ["--year", "1836"], "no rows"),
    (b"adresse\n12 rue X\n", ["--year", "1836", "--gazetteer", "no_such"], "unknown gazetteer"),
    (b"adresse\n12 rue X\n", ["--year", "99999"], "plausible year"),
])
def test_bad_input_gives_one_line(run_cli, tmp_path, content, args, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    code, _, err = run_cli("geocode", str(src), *args, "-o", str(tmp_path / "o.csv"))
    _one_line_error(code, err)
    assert message in err


def test_output_must_be_csv_or_gpkg_and_is_required(run_cli, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("adresse\n12 rue de Charonne\n", encoding="utf-8")
    code, _, err = run_cli("geocode", str(src), "--year", "1836", "-o", str(tmp_path / "o.xlsx"))
    _one_line_error(code, err)
    code, _, err = run_cli("geocode", str(src), "--year", "1836")
    _one_line_error(code, err)
    code, _, err = run_cli("geocode", str(tmp_path / "missing.csv"), "--year", "1836", "-o", str(tmp_path / "o.csv"))
    _one_line_error(code, err)
    assert "no such file" in err


def test_latin1_accepted_when_declared(run_cli, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes("adresse;année\n12 rue de Charonne;1836\n".encode("latin-1"))
    out = tmp_path / "o.csv"
    code, _, err = run_cli("geocode", str(src), "--encoding", "latin-1", "-o", str(out))
    assert code == 0, err
    assert pd.read_csv(out)["match_type"].iloc[0] == "address_point"


def test_one_address_column_guess_for_the_cli_and_the_app():
    from jadis.geocode.tables import guess_address_column, guess_year_column

    assert guess_address_column(["id", " Adresse "]) == " Adresse "  # a known name, any case
    assert guess_address_column(["id", "Adresse complète"]) == "Adresse complète"  # an address word
    assert guess_address_column(["nom de rue", "n"]) == "nom de rue"
    assert guess_address_column(["only"]) == "only"
    assert guess_address_column(["a", "true"]) is None  # nothing says: the CLI asks, the app shows the first
    assert guess_year_column(["x", "Année"]) == "Année" and guess_year_column(["x"]) is None
