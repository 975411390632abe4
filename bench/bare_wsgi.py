"""The anchor of ``bench/launch.py``: bare Flask answering "hello", served by the same gunicorn
command as the product and driven by the same client, so the launch figure can be read as a
ratio to what this machine does at that moment with no application at all."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
