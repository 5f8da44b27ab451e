"""tousu.spark is an optional extra: without pyspark, importing it says what to install."""
import subprocess
import sys


def test_importing_tousu_spark_without_pyspark_names_the_extra():
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "try:\n    import tousu.spark\nexcept ImportError as error:\n    print(error)\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert "pip install 'tousu[spark]'" in done.stdout, done.stdout + done.stderr
