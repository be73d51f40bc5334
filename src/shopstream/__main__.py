from shopstream.cli import main

main()
