from ltv.cli import main

main()
