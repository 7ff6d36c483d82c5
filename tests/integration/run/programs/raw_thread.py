# A thread started with the low-level _thread module (no threading trampoline).
import _thread

done = _thread.allocate_lock()
done.acquire()


def work(n):
    return n * 2


def body():
    work(21)
    done.release()


_thread.start_new_thread(body, ())
done.acquire()
print("ok")
