"""tools/record_learning_curves.py: resumes where it stopped, reproduces the packaged table."""

import sys
from pathlib import Path

import pandas as pd

from d2lhpo.objectives.tabular import load_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import record_learning_curves as record  # noqa: E402


def test_records_resumes_and_matches_the_packaged_table(tmp_path):
    out = tmp_path / "curves.csv"
    args = ["--epochs", "2", "--out", str(out)]
    record.main(["--n-configs", "2", *args])
    first = pd.read_csv(out)
    assert sorted(zip(first.config_id, first.epoch)) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    record.main(["--n-configs", "3", *args])   # configurations 0 and 1 are not trained again
    again = pd.read_csv(out)
    assert len(again) == 6 and again.iloc[:4].equals(first)
    # The same seeds give the same curves as the recording behind the packaged table.
    packaged = load_table("lenet_digits.csv.gz")
    packaged = packaged[(packaged.config_id < 3) & (packaged.epoch <= 2)]
    merged = again.merge(packaged, on=["config_id", "epoch"], suffixes=("", "_packaged"))
    assert len(merged) == 6
    assert (merged.error == merged.error_packaged).all()
    assert (merged.seed == merged.seed_packaged).all()
    assert (merged.n_params == merged.n_params_packaged).all()
    export = tmp_path / "table.csv.gz"
    record.main(["--out", str(out), "--export", str(export), "--n-configs", "2"])
    assert pd.read_csv(export).config_id.nunique() == 2
