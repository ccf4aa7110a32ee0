from polyfleet.cli import app

app(prog_name="polyfleet")
