import json
import os
import tempfile
import time
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.intake.extract import ExtractionLimits, IntakeError, extract_submission
from grader.intake.flags import Flag

from .zipcraft import S_IFLNK, UTF8_FLAG, RawEntry, build_zip, deflated, deflated_zeros, unicode_path_extra

HAND_IN = "Strüber_7012345_Çelik_7034567.zip"


def notebook(*code_cells: str) -> str:
    cells = [{"cell_type": "code", "source": src, "metadata": {}, "outputs": [], "execution_count": None}
             for src in code_cells]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def make_zip(path: Path, entries: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_plain_zip_with_one_notebook(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"sheet11.ipynb": notebook("x = 1"), "answers.pdf": b"%PDF-1.4"})
    result = extract_submission(source, tmp_path / "out")
    assert sorted(result.files) == ["answers.pdf", "sheet11.ipynb"]
    assert all_files(tmp_path / "out") == {"answers.pdf", "sheet11.ipynb"}
    assert result.main_file == "sheet11.ipynb"
    assert result.written_answers == ["answers.pdf"]
    assert result.flags == []
    assert result.bytes_written == sum(p.stat().st_size for p in (tmp_path / "out").iterdir())
    assert json.loads((tmp_path / "out/sheet11.ipynb").read_text())["cells"][0]["source"] == "x = 1"


def test_utf8_names_decode(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"Lösung Straße/Übung 11.ipynb": notebook("pass")})
    assert zipfile.ZipFile(source).infolist()[0].flag_bits & UTF8_FLAG  # zipfile set the flag itself
    result = extract_submission(source, tmp_path / "out")
    assert result.files == ["Übung 11.ipynb"]
    assert result.top_folder == "Lösung Straße"


def test_cp437_names_from_old_windows_tools_decode(tmp_path):
    raw = "Lösung für Blatt 11.ipynb".encode("cp437")
    source = build_zip(tmp_path / HAND_IN, [RawEntry(raw, notebook("pass").encode())])
    result = extract_submission(source, tmp_path / "out")
    assert result.files == ["Lösung für Blatt 11.ipynb"]
    assert (tmp_path / "out" / "Lösung für Blatt 11.ipynb").is_file()


def test_utf8_names_without_the_flag_are_not_mojibake(tmp_path):
    # macOS Archive Utility writes UTF-8 bytes, in NFD, without setting the UTF-8 flag.
    raw = unicodedata.normalize("NFD", "Lösung_Çelik.ipynb").encode("utf-8")
    source = build_zip(tmp_path / HAND_IN, [RawEntry(raw, notebook("pass").encode())])
    result = extract_submission(source, tmp_path / "out")
    assert result.files == ["Lösung_Çelik.ipynb"]  # NFC on disk
    assert os.listdir(tmp_path / "out") == ["Lösung_Çelik.ipynb"]


def test_unicode_path_extra_field_wins_when_it_matches_the_name(tmp_path):
    raw = b"L?sung.ipynb"
    fresh = RawEntry(raw, notebook("pass").encode(), extra=unicode_path_extra(raw, "Lösung.ipynb"))
    stale = RawEntry(b"Other.py", b"pass\n", extra=unicode_path_extra(b"Renamed.py", "Älter.py"))
    result = extract_submission(build_zip(tmp_path / HAND_IN, [fresh, stale]), tmp_path / "out")
    assert sorted(result.files) == ["Lösung.ipynb", "Other.py"]


def test_os_junk_is_ignored_with_reasons(tmp_path):
    source = make_zip(
        tmp_path / HAND_IN,
        {
            "Team/solution.ipynb": notebook("pass"),
            "Team/.ipynb_checkpoints/solution-checkpoint.ipynb": notebook("old"),
            "__MACOSX/Team/._solution.ipynb": b"\x00\x05\x16\x07",
            "Team/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "Team/Thumbs.db": b"\xd0\xcf",
            "Team/__pycache__/helpers.cpython-311.pyc": b"\x00",
        },
    )
    result = extract_submission(source, tmp_path / "out")
    assert result.files == ["solution.ipynb"]
    assert all_files(tmp_path / "out") == {"solution.ipynb"}
    reasons = {entry.name: entry.reason for entry in result.ignored}
    assert reasons["__MACOSX/Team/._solution.ipynb"] == "macOS resource data (__MACOSX)"
    assert reasons["Team/.DS_Store"] == "macOS folder metadata (.DS_Store)"
    assert reasons["Team/.ipynb_checkpoints/solution-checkpoint.ipynb"] == "Jupyter autosave copy (.ipynb_checkpoints)"
    assert reasons["Team/Thumbs.db"] == "Windows thumbnail cache (Thumbs.db)"
    assert result.flags == []


def test_nested_single_top_folders_are_looked_through(tmp_path):
    source = make_zip(
        tmp_path / HAND_IN,
        {"Abgabe/Abgabe/nb.ipynb": notebook("pass"), "Abgabe/Abgabe/data/x.csv": "1,2\n", "Abgabe/": ""},
    )
    result = extract_submission(source, tmp_path / "out")
    assert result.top_folder == "Abgabe/Abgabe"
    assert sorted(result.files) == ["data/x.csv", "nb.ipynb"]
    assert all_files(tmp_path / "out") == {"data/x.csv", "nb.ipynb"}


def test_top_folder_kept_when_files_sit_beside_it(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"code/nb.ipynb": notebook("pass"), "README.md": "hi"})
    result = extract_submission(source, tmp_path / "out")
    assert result.top_folder is None
    assert sorted(result.files) == ["README.md", "code/nb.ipynb"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../evil.py", "points outside the hand-in folder with '..'"),
        ("../../evil.py", "points outside the hand-in folder with '..'"),
        ("ok/../../evil.py", "points outside the hand-in folder with '..'"),
        ("/tmp/evil.py", "is an absolute path"),
        ("..\\evil.py", "points outside the hand-in folder with '..'"),
        ("\\evil.py", "is an absolute path"),
        ("C:/evil.py", "starts with a drive letter"),
        ("C:evil.py", "starts with a drive letter"),
    ],
)
def test_zip_slip_entries_are_never_written(tmp_path, name, reason):
    dest = tmp_path / "a" / "b" / "out"
    raw = [RawEntry(name.encode(), b"print('pwned')\n"), RawEntry(b"nb.ipynb", notebook("pass").encode())]
    result = extract_submission(build_zip(tmp_path / HAND_IN, raw), dest)
    assert result.files == ["nb.ipynb"]
    assert result.flags == [
        Flag("unsafe_zip", f"entry '{name}' in '{HAND_IN}' {reason}; it was not extracted")
    ]
    assert all_files(tmp_path) == {HAND_IN, "a/b/out/nb.ipynb"}
    assert not Path("/tmp/evil.py").exists()


def test_zip_of_only_hostile_entries_is_an_unsafe_zip_error(tmp_path):
    source = build_zip(tmp_path / HAND_IN, [RawEntry(b"../evil.py", b"x"), RawEntry(b"/etc/evil", b"x")])
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert caught.value.code == "unsafe_zip"
    assert "'../evil.py'" in caught.value.message and "'/etc/evil'" in caught.value.message
    assert all_files(tmp_path) == {HAND_IN}


def test_symlink_entries_are_not_created(tmp_path):
    link = RawEntry(b"data/passwd", b"/etc/passwd", unix_mode=S_IFLNK | 0o777)
    escape = RawEntry(b"up", b"..", unix_mode=S_IFLNK | 0o777)
    through = RawEntry(b"up/evil.py", b"x")  # would land outside if 'up' had been created as a link
    nb = RawEntry(b"nb.ipynb", notebook("pass").encode())
    result = extract_submission(build_zip(tmp_path / HAND_IN, [link, escape, through, nb]), tmp_path / "out")
    assert sorted(result.files) == ["nb.ipynb", "up/evil.py"]
    assert [f.code for f in result.flags] == ["unsafe_zip", "unsafe_zip"]
    assert "'data/passwd'" in result.flags[0].message and "symbolic link" in result.flags[0].message
    for path in (tmp_path / "out").rglob("*"):
        assert not path.is_symlink()
    assert (tmp_path / "out/up").is_dir()
    assert all_files(tmp_path) == {HAND_IN, "out/nb.ipynb", "out/up/evil.py"}


@pytest.fixture(scope="module")
def two_gib_of_zeros() -> tuple[bytes, int, int]:
    return deflated_zeros(2048)


def test_zip_bomb_is_refused_before_anything_is_written(tmp_path, two_gib_of_zeros):
    data, crc, size = two_gib_of_zeros
    assert size == 2 << 30 and len(data) < 4 * 1024 * 1024  # 2 GiB unpacked from about 2 MB
    source = build_zip(tmp_path / HAND_IN, [RawEntry(b"weights.bin", compressed=data, crc=crc, file_size=size)])
    assert zipfile.ZipFile(source).getinfo("weights.bin").file_size == size  # an honest header
    start = time.perf_counter()
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert time.perf_counter() - start < 1.0
    assert caught.value.code == "zip_bomb"
    assert caught.value.message == (
        f"entry 'weights.bin' in '{HAND_IN}' unpacks to 2048.0 MB, more than the limit of 100.0 MB per file"
    )
    assert all_files(tmp_path / "out") == set()


def test_many_medium_entries_exceed_the_total_cap(tmp_path):
    data, crc, size = deflated_zeros(1)
    entries = [RawEntry(f"part{i}.bin".encode(), compressed=data, crc=crc, file_size=size) for i in range(5)]
    limits = ExtractionLimits(max_total_bytes=3 << 20, max_ratio=10_000.0)
    with pytest.raises(IntakeError) as caught:
        extract_submission(build_zip(tmp_path / HAND_IN, entries), tmp_path / "out", limits)
    assert caught.value.code == "zip_bomb"
    assert "unpacks to 5.0 MB, more than the limit of 3.0 MB" in caught.value.message
    assert all_files(tmp_path / "out") == set()


def test_high_compression_ratio_is_a_zip_bomb_even_under_the_size_caps(tmp_path):
    data, crc, size = deflated_zeros(50)
    source = build_zip(tmp_path / HAND_IN, [RawEntry(b"zeros.npy", compressed=data, crc=crc, file_size=size)])
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert caught.value.code == "zip_bomb"
    assert "more than the limit of 200 to 1" in caught.value.message


def test_small_files_may_compress_well(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"nb.ipynb": notebook("pass"), "blank.txt": " " * 100_000})
    result = extract_submission(source, tmp_path / "out")
    assert sorted(result.files) == ["blank.txt", "nb.ipynb"]


def test_too_many_entries_is_a_zip_bomb(tmp_path):
    source = build_zip(tmp_path / HAND_IN, [RawEntry(f"f{i}.txt".encode(), b"") for i in range(30)])
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out", ExtractionLimits(max_entries=20))
    assert (caught.value.code, caught.value.message) == (
        "zip_bomb", f"'{HAND_IN}' has 30 entries, more than the limit of 20"
    )


def test_header_that_understates_the_size_is_cut_at_the_declared_size(tmp_path):
    # 10 MiB of data behind a header claiming 1000 bytes, with the CRC of the full data.
    real = bytes(range(256)) * 40960
    lying = RawEntry(b"big.py", real, compressed=deflated(real), file_size=1000)
    nb = RawEntry(b"nb.ipynb", notebook("pass").encode())
    result = extract_submission(build_zip(tmp_path / HAND_IN, [lying, nb]), tmp_path / "out")
    assert result.files == ["nb.ipynb"]
    assert all_files(tmp_path / "out") == {"nb.ipynb"}
    assert [f.code for f in result.flags] == ["corrupt_zip"]
    assert result.flags[0].message.startswith("entry 'big.py' is damaged and was not extracted")
    assert result.bytes_written == len(notebook("pass").encode())


def test_header_that_understates_the_size_never_yields_more_than_declared(tmp_path):
    # Here the CRC matches the first 1000 bytes, so the entry reads as valid: 1000 bytes, no more.
    real = bytes(range(256)) * 40960
    lying = RawEntry(b"big.py", real, compressed=deflated(real), file_size=1000, crc=zlib.crc32(real[:1000]))
    result = extract_submission(build_zip(tmp_path / HAND_IN, [lying]), tmp_path / "out")
    assert (tmp_path / "out/big.py").read_bytes() == real[:1000]
    assert result.bytes_written == 1000


def test_damaged_entry_data_is_flagged_and_the_rest_extracted(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"a.py": "print('a')\n" * 200, "nb.ipynb": notebook("pass")})
    info = zipfile.ZipFile(source).getinfo("a.py")
    raw = bytearray(source.read_bytes())
    start = info.header_offset + 30 + len(info.filename)
    raw[start : start + 8] = b"\xff" * 8
    source.write_bytes(bytes(raw))
    result = extract_submission(source, tmp_path / "out")
    assert result.files == ["nb.ipynb"]
    assert [f.code for f in result.flags] == ["corrupt_zip"]
    assert [e.name for e in result.ignored] == ["a.py"]


def test_truncated_zip_is_a_corrupt_zip_error(tmp_path):
    source = make_zip(tmp_path / HAND_IN, {"nb.ipynb": notebook("pass")})
    source.write_bytes(source.read_bytes()[:-30])
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert caught.value.code == "corrupt_zip"
    assert caught.value.message.startswith(f"'{HAND_IN}' is not a readable zip archive")


def test_non_zip_with_zip_name_is_a_corrupt_zip_error(tmp_path):
    source = tmp_path / HAND_IN
    source.write_bytes(b"%PDF-1.4 this is really a PDF\n")
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert caught.value.flag == Flag("corrupt_zip", f"'{HAND_IN}' is not a readable zip archive (File is not a zip file)")


def test_empty_zip_is_an_empty_zip_error(tmp_path):
    make_zip(tmp_path / HAND_IN, {})
    with pytest.raises(IntakeError) as caught:
        extract_submission(tmp_path / HAND_IN, tmp_path / "out")
    assert caught.value.flag == Flag("empty_zip", f"'{HAND_IN}' is an empty zip archive")


def test_zip_of_only_junk_and_folders_is_an_empty_zip_error(tmp_path):
    make_zip(tmp_path / HAND_IN, {"Team/": "", "__MACOSX/Team/._x": "x", "Team/.DS_Store": "x"})
    with pytest.raises(IntakeError) as caught:
        extract_submission(tmp_path / HAND_IN, tmp_path / "out")
    assert caught.value.code == "empty_zip"
    assert "'Team/.DS_Store' (macOS folder metadata (.DS_Store))" in caught.value.message


def test_encrypted_and_duplicate_entries_are_skipped(tmp_path):
    entries = [
        RawEntry(b"secret.ipynb", b"\x00" * 40, flag_bits=0x1),
        RawEntry(b"nb.ipynb", notebook("first").encode()),
        RawEntry(b"nb.ipynb", notebook("second").encode()),
    ]
    result = extract_submission(build_zip(tmp_path / HAND_IN, entries), tmp_path / "out")
    assert result.files == ["nb.ipynb"]
    assert "first" in (tmp_path / "out/nb.ipynb").read_text()
    assert [e.reason for e in result.ignored] == [
        "is password-protected and cannot be read",
        "appears twice in the zip; the first copy was used",
    ]


def test_no_notebook_and_several_notebooks_are_flagged(tmp_path):
    make_zip(tmp_path / "a.zip", {"answers.pdf": b"%PDF", "notes.txt": "x"})
    result = extract_submission(tmp_path / "a.zip", tmp_path / "a")
    assert result.main_file is None
    assert [f.code for f in result.flags] == ["no_notebook"]
    make_zip(tmp_path / "b.zip", {"Untitled.ipynb": notebook("pass"), "solution.ipynb": notebook("pass")})
    result = extract_submission(tmp_path / "b.zip", tmp_path / "b")
    assert result.main_file == "solution.ipynb"
    assert [f.code for f in result.flags] == ["several_notebooks"]


@pytest.mark.parametrize("name", ["Strüber_111_Çelik_222.ipynb", "Strüber_111_Çelik_222.PY"])
def test_single_file_hand_in_is_copied(tmp_path, name):
    source = tmp_path / "in" / name
    source.parent.mkdir()
    source.write_text(notebook("pass") if name.endswith("ipynb") else "print(1)\n")
    result = extract_submission(source, tmp_path / "out")
    assert result.files == [name]
    assert result.main_file == name
    assert (tmp_path / "out" / name).read_bytes() == source.read_bytes()


def test_single_file_over_the_cap_is_refused(tmp_path):
    source = tmp_path / "big.py"
    source.write_bytes(b"#" * 5000)
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out", ExtractionLimits(max_entry_bytes=4096))
    assert caught.value.code == "zip_bomb"
    assert all_files(tmp_path / "out") == set()


def test_unknown_file_kind_is_refused(tmp_path):
    source = tmp_path / "Strüber_111_Çelik_222.rar"
    source.write_bytes(b"Rar!\x1a\x07\x00")
    with pytest.raises(IntakeError) as caught:
        extract_submission(source, tmp_path / "out")
    assert caught.value.code == "corrupt_zip"
    assert "'Strüber_111_Çelik_222.rar' is neither a zip archive" in caught.value.message


def test_zip_with_other_ending_is_still_read(tmp_path):
    make_zip(tmp_path / "x.zip", {"nb.ipynb": notebook("pass")})
    (tmp_path / "x.zip").rename(tmp_path / "Strüber_111_Çelik_222.7z")
    result = extract_submission(tmp_path / "Strüber_111_Çelik_222.7z", tmp_path / "out")
    assert result.files == ["nb.ipynb"]


def test_target_folder_must_be_empty(tmp_path):
    make_zip(tmp_path / HAND_IN, {"nb.ipynb": notebook("pass")})
    (tmp_path / "out").mkdir()
    (tmp_path / "out/left-over.txt").write_text("x")
    with pytest.raises(ValueError, match="is not empty"):
        extract_submission(tmp_path / HAND_IN, tmp_path / "out")
    assert all_files(tmp_path / "out") == {"left-over.txt"}


_piece = st.sampled_from(["a", "ü", ".", "..", "...", "/", "\\", ":", "C:", "~", " ", "\x00", "x.py", "__MACOSX"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.lists(_piece, min_size=1, max_size=6).map("".join), min_size=1, max_size=5),
       links=st.lists(st.booleans(), min_size=5, max_size=5))
def test_extraction_never_writes_outside_dest(names, links):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        entries = [
            RawEntry(name.encode("utf-8"), b"..", flag_bits=UTF8_FLAG, unix_mode=(S_IFLNK | 0o777) if link else 0o100644)
            for name, link in zip(names, links)
        ]
        source = build_zip(root / "hand-in.zip", entries)
        dest = root / "deep" / "er" / "out"
        try:
            result = extract_submission(source, dest)
        except IntakeError:
            assert all_files(dest) == set()
            result = None
        outside = all_files(root) - {"hand-in.zip"}
        assert all(path.startswith("deep/er/out/") for path in outside), outside
        assert not any(p.is_symlink() for p in root.rglob("*"))
        if result is not None:
            assert {f"deep/er/out/{f}" for f in result.files} == outside
