"""loop/memory.py's collector setting: start-up objects frozen out of full collections, later garbage
still collected. Run in a child interpreter: freezing pytest's own process would keep its tests' garbage."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import gc, weakref
    from nudge.loop.compute.memory import freeze_startup_objects

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    startup = [cycle() for _ in range(1000)]
    startup_garbage = weakref.ref(cycle())  # unreachable already: collected, not frozen
    frozen = freeze_startup_objects()
    assert startup_garbage() is None, "garbage from before the freeze was kept"
    assert frozen >= 2000 and gc.get_freeze_count() == frozen
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(node) in tracked for node in startup), "a frozen object is still walked"
    later = weakref.ref(cycle())
    gc.collect()
    assert later() is None, "garbage made after the freeze was not collected"
    print("ok", frozen)
""")


def test_startup_objects_leave_the_collector_and_later_garbage_is_still_collected():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")

