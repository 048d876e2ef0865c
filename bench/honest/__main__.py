from bench.honest.cli import main

main()
