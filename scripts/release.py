"""What `make release` runs: regenerate every chapter's exercise notebooks
in chapters/ from the instructor sources in solutions/ (see coursekit.release).
"""

from coursekit.release import main

if __name__ == "__main__":
    main()
