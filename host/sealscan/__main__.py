from sealscan.cli import main

main()
