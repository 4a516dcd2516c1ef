import pathlib
import sys

# The tests import dev/cfn.py and dev/local_table.py.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
