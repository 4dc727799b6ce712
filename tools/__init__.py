"""The project's build tools, run from the clone as modules (``python -m tools.handouts``; the Makefile's targets).

handouts     make handouts: HTML and PDF of every notebook, instructor and student editions
assignments  make assignments: otter-grader student and instructor notebooks, autograder archives
slides       make slides: one reveal.js deck per notebook
kernelspec   the set-up's finishing touch to the course's Jupyter kernel
"""
