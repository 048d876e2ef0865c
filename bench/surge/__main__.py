from bench.surge.cli import main

main()
