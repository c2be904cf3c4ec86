"""``hwsim.files``: exclusive temporaries, regular targets only, OS errors as UserError, all or none."""

import errno
import os
import stat

import pytest

from hwsim import files
from hwsim.errors import UserError
from hwsim.files import write_atomic, write_files


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def planted_link(directory, name, victim_text="precious\n"):
    """A victim file and a symbolic link to it at ``directory/name``; returns the victim."""
    victim = directory / "victim.txt"
    victim.write_text(victim_text)
    (directory / name).symlink_to(victim)
    return victim


def failing(name, err, after=0):
    """A stand-in for ``os.NAME`` that works ``after`` times, then raises ``err``."""
    real, calls = getattr(os, name), []

    def fake(*args, **kwargs):
        calls.append(args)
        if len(calls) > after:
            raise err
        return real(*args, **kwargs)
    return fake


EROFS = OSError(errno.EROFS, os.strerror(errno.EROFS))


def read_only(monkeypatch, directory):
    """Every open, create, rename or removal under ``directory`` fails with EROFS, as on a read-only mount."""
    def guard(real):
        def fake(path, *args, **kwargs):
            if str(path).startswith(str(directory)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real(path, *args, **kwargs)
        return fake
    monkeypatch.setattr("builtins.open", guard(open))
    for name in ("open", "unlink", "replace", "rename", "mkdir", "rmdir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))


# ---- 1. a planted temporary name is never written through -----------------------------
def test_write_atomic_leaves_a_planted_temp_symlink_alone(tmp_path):
    victim = planted_link(tmp_path, ".g.json.tmp")
    write_atomic(tmp_path / "g.json", "new\n")
    assert (tmp_path / "g.json").read_text() == "new\n"
    assert victim.read_text() == "precious\n"
    assert os.readlink(tmp_path / ".g.json.tmp") == str(victim)
    assert listing(tmp_path) == [".g.json.tmp", "g.json", "victim.txt"]


def test_temporaries_are_exclusive_unpredictable_and_beside_the_target(tmp_path, monkeypatch):
    opened, real_open = [], os.open
    monkeypatch.setattr(os, "open", lambda p, flags, *a: opened.append((p, flags)) or real_open(p, flags, *a))
    write_atomic(tmp_path / "a.json", "1")
    write_atomic(tmp_path / "a.json", "2")
    (first, flags), (second, _) = opened
    assert flags & os.O_CREAT and flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert os.path.dirname(first) == str(tmp_path) and first != second
    assert listing(tmp_path) == ["a.json"] and (tmp_path / "a.json").read_text() == "2"


def test_write_files_leaves_planted_temp_symlinks_alone(tmp_path):
    victim = planted_link(tmp_path, ".report.json.tmp")
    write_files(tmp_path, {"report.json": "{}\n", "layers.csv": b"a,b\n"})
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "report.json").read_text() == "{}\n" and (tmp_path / "layers.csv").read_bytes() == b"a,b\n"
    assert listing(tmp_path) == [".report.json.tmp", "layers.csv", "report.json", "victim.txt"]


def test_new_files_get_the_umask_permissions_like_a_plain_open(tmp_path):
    write_atomic(tmp_path / "a.json", "1")
    (tmp_path / "b.json").write_text("1")
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == stat.S_IMODE(os.stat(tmp_path / "b.json").st_mode)


# ---- 2. only regular files are replaced ----------------------------------------------
def test_a_fifo_target_is_refused_and_stays_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "t.json")
    with pytest.raises(UserError, match="is a FIFO") as caught:
        write_atomic(tmp_path / "t.json", "x")
    assert caught.value.where == str(tmp_path / "t.json")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "t.json").st_mode)
    assert listing(tmp_path) == ["t.json"]


def test_a_directory_target_is_refused_and_kept(tmp_path):
    (tmp_path / "t.json").mkdir()
    (tmp_path / "t.json" / "inside").write_text("kept")
    with pytest.raises(UserError, match="is a directory"):
        write_atomic(tmp_path / "t.json", "x")
    assert (tmp_path / "t.json" / "inside").read_text() == "kept"
    assert listing(tmp_path) == ["t.json"]


def test_dev_null_is_refused_by_the_check_and_left_alone():
    before = os.lstat("/dev/null")
    with pytest.raises(UserError, match="is a character device") as caught:
        files.check_target("/dev/null")
    assert caught.value.where == "/dev/null"
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_link_to_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "t.json").symlink_to(tmp_path / "fifo")
    with pytest.raises(UserError, match="symbolic link to a FIFO"):
        write_atomic(tmp_path / "t.json", "x")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode) and (tmp_path / "t.json").is_symlink()


def test_a_symlinked_target_is_replaced_and_the_file_it_named_is_kept(tmp_path):
    victim = planted_link(tmp_path, "g.json")
    write_atomic(tmp_path / "g.json", "new\n")
    assert not (tmp_path / "g.json").is_symlink() and (tmp_path / "g.json").read_text() == "new\n"
    assert victim.read_text() == "precious\n"


def test_a_dangling_symlink_is_replaced(tmp_path):
    (tmp_path / "g.json").symlink_to(tmp_path / "nowhere")
    write_atomic(tmp_path / "g.json", "new\n")
    assert listing(tmp_path) == ["g.json"] and (tmp_path / "g.json").read_text() == "new\n"


def test_a_missing_parent_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        files.check_target(tmp_path / "nodir" / "g.json")
    assert listing(tmp_path) == []


@pytest.mark.parametrize("sub", ["file", "file/out"])
def test_check_directory_refuses_a_file_in_the_way(tmp_path, sub):
    (tmp_path / "file").write_text("a file")
    with pytest.raises(UserError, match="is not a directory"):
        files.check_directory(tmp_path / sub, ["report.json"])
    assert (tmp_path / "file").read_text() == "a file"


def test_check_directory_refuses_a_fifo_among_the_names(tmp_path):
    os.mkfifo(tmp_path / "layers.csv")
    with pytest.raises(UserError, match="layers.csv: is a FIFO"):
        files.check_directory(tmp_path, ["report.json", "layers.csv"])


# ---- 3. every OS error is a UserError, and nothing is left behind ----------------------
def test_a_read_only_directory_is_one_user_error_even_when_cleaning_up_fails(tmp_path, monkeypatch):
    (tmp_path / "g.json").write_text("old\n")
    read_only(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="Read-only file system") as caught:
        write_atomic(tmp_path / "g.json", "new\n")
    assert caught.value.where == str(tmp_path / "g.json")
    with pytest.raises(UserError, match="Read-only file system"):
        write_files(tmp_path, {"a": "1"})
    monkeypatch.undo()
    assert listing(tmp_path) == ["g.json"] and (tmp_path / "g.json").read_text() == "old\n"


@pytest.mark.parametrize("name, err", [
    ("fsync", OSError(errno.ENOSPC, "No space left on device")), ("replace", EROFS),
    ("replace", PermissionError(errno.EACCES, "Permission denied")),
])
def test_os_errors_become_one_user_error_and_leave_nothing(tmp_path, monkeypatch, name, err):
    (tmp_path / "g.json").write_text("old\n")
    monkeypatch.setattr(os, name, failing(name, err))
    with pytest.raises(UserError, match=err.strerror) as caught:
        write_atomic(tmp_path / "g.json", "new\n")
    assert caught.value.where == str(tmp_path / "g.json")
    assert listing(tmp_path) == ["g.json"] and (tmp_path / "g.json").read_text() == "old\n"


def test_no_unused_temporary_name_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "open", failing("open", FileExistsError(errno.EEXIST, "File exists")))
    with pytest.raises(UserError, match="no unused temporary name"):
        write_atomic(tmp_path / "g.json", "new\n")


# ---- 5. several files: all or none ---------------------------------------------------
FILES = {"report.json": "{}\n", "layers.csv": "a,b\n"}


@pytest.mark.parametrize("name, after", [("fsync", 1), ("replace", 1)])
def test_write_files_fails_as_a_whole(tmp_path, monkeypatch, name, after):
    out = tmp_path / "out"
    monkeypatch.setattr(os, name, failing(name, EROFS, after))
    with pytest.raises(UserError, match="Read-only file system") as caught:
        write_files(out, FILES)
    assert caught.value.where == str(out)
    assert listing(tmp_path) == []  # not even the directory it made


def test_write_files_into_an_existing_directory_leaves_it_as_it_was(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setattr(os, "replace", failing("replace", EROFS, 1))
    with pytest.raises(UserError):
        write_files(tmp_path, FILES)
    assert listing(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_write_files_refuses_a_fifo_before_writing_anything(tmp_path):
    os.mkfifo(tmp_path / "layers.csv")
    with pytest.raises(UserError, match="is a FIFO"):
        write_files(tmp_path, FILES)
    assert listing(tmp_path) == ["layers.csv"] and stat.S_ISFIFO(os.lstat(tmp_path / "layers.csv").st_mode)


def test_write_files_writes_them_all(tmp_path):
    write_files(tmp_path / "a" / "b", FILES)
    assert {p.name: p.read_text() for p in (tmp_path / "a" / "b").iterdir()} == FILES

