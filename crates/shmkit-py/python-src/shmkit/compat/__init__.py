"""Drop-in replacements for Python libraries users migrate from.

- :mod:`shmkit.compat.shared_hashmap`: ``SharedHashMap`` of the ``shared-hashmap`` package.
"""
